import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The README's variable table is the container contract: every variable the entrypoint or the
// config step reads must be in it.
const ROOT = path.join(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

function variablesRead(): string[] {
  const found = new Set<string>();
  for (const m of read("entrypoint.sh").matchAll(/\$\{([A-Z][A-Z0-9_]+)/g)) found.add(m[1] as string);
  for (const file of ["settings.ts", "statefulset.ts", "cli.ts", "identity.ts", "env-fields.ts", "a2a.ts"]) {
    const text = read(`scripts/config/${file}`);
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) found.add(m[1] as string);
    for (const m of text.matchAll(/\br\.\w+\(\s*"([A-Z][A-Z0-9_]+)"/g)) found.add(m[1] as string);
  }
  // The entrypoint's own shell variables and bash's.
  for (const own of ["BASH_SOURCE", "BUNDLE_DIR", "NODE_BIN", "SECONDS"]) found.delete(own);
  return [...found].sort();
}

describe("README", () => {
  it("lists every variable the entrypoint and the config step read", () => {
    const table = read("README.md")
      .split("\n")
      .filter((l) => l.startsWith("| `"));
    const listed = new Set(table.flatMap((l) => [...l.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])));
    const vars = variablesRead();
    expect(vars.length).toBeGreaterThan(40);
    expect(vars.filter((v) => !listed.has(v))).toEqual([]);
  });
});
