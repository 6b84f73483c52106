import { readFileSync, statSync, utimesSync } from "node:fs";
import path from "node:path";
import { BUNDLE_EXTENSIONS } from "@openclaw-bundle/shared";
import { beforeAll, describe, expect, it } from "vitest";
import { distEntry, ensureBuilt, staleExtensions } from "./build.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const deps = (dir: string) =>
  Object.keys(
    (
      JSON.parse(readFileSync(path.join(ROOT, dir, "package.json"), "utf8")) as {
        dependencies?: Record<string, string>;
      }
    ).dependencies ?? {},
  );

/** Every `import ... from "x"` of a compiled module, static and dynamic. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = new Set<string>();
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gm)) found.add(m[1] as string);
  for (const m of text.matchAll(/^\s*import\s+"([^"]+)"/gm)) found.add(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) found.add(m[1] as string);
  return [...found];
}

describe("compiled extensions", () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 120_000);

  it("names dist/index.js as each extension's runtime entry", () => {
    for (const { folder } of BUNDLE_EXTENSIONS) {
      const pkg = JSON.parse(readFileSync(path.join(ROOT, "extensions", folder, "package.json"), "utf8"));
      expect(pkg.openclaw.runtimeExtensions, folder).toEqual(["./dist/index.js"]);
      expect(pkg.openclaw.extensions, folder).toHaveLength(1);
    }
  });

  it("imports only what the image installs: node builtins, the host's SDK and declared dependencies", () => {
    const shared = deps("packages/shared");
    for (const { folder } of BUNDLE_EXTENSIONS) {
      const declared = new Set([...deps(`extensions/${folder}`), ...shared]);
      for (const spec of importsOf(distEntry(folder))) {
        if (spec.startsWith("node:") || spec.startsWith("openclaw/plugin-sdk/")) continue;
        // The project's own code is bundled in: a relative or workspace import would not resolve.
        expect(spec.startsWith(".") || spec.startsWith("@openclaw-bundle/"), `${folder}: ${spec}`).toBe(
          false,
        );
        const pkg = spec.startsWith("@")
          ? spec.split("/").slice(0, 2).join("/")
          : (spec.split("/")[0] as string);
        expect(declared.has(pkg), `${folder} imports ${spec}, not among its or shared's dependencies`).toBe(
          true,
        );
      }
    }
  });

  it("rebuilds an extension whose dist is older than its sources, and only that one", async () => {
    expect(staleExtensions()).toEqual([]);
    const file = distEntry("auth-manager");
    const past = new Date(Date.now() - 365 * 86_400_000);
    utimesSync(file, past, past);
    expect(staleExtensions()).toEqual(["auth-manager"]);
    expect(await ensureBuilt()).toEqual(["auth-manager"]);
    expect(statSync(file).mtimeMs).toBeGreaterThan(past.getTime());
    expect(staleExtensions()).toEqual([]);
  }, 60_000);
});
