import { readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { BUNDLE_EXTENSIONS } from "@openclaw-bundle/shared";
import { beforeAll, describe, expect, it } from "vitest";
import { builtPackage, CHUNKS_DIR, distEntry, ensureBuilt, staleExtensions } from "./build.ts";

/** A package's modules: its entry and its chunks. */
function modulesOf(folder: string): string[] {
  const chunks = path.join(builtPackage(folder), CHUNKS_DIR);
  const extra = statSync(chunks, { throwIfNoEntry: false })
    ? readdirSync(chunks).map((f) => path.join(chunks, f))
    : [];
  return [distEntry(folder), ...extra];
}

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

  it("builds each extension into a plugin package whose entry is the compiled module", () => {
    for (const { folder, id } of BUNDLE_EXTENSIONS) {
      const dir = builtPackage(folder);
      const files = readdirSync(dir).filter((f) => f !== CHUNKS_DIR);
      expect(files.sort(), folder).toEqual(["index.js", "openclaw.plugin.json", "package.json"]);
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
      expect(pkg.openclaw, folder).toEqual({ extensions: ["./index.js"] });
      expect(pkg.type, folder).toBe("module");
      // Declared dependencies are what the host copies for every plugin instance it loads.
      expect(pkg.dependencies ?? {}, folder).toEqual({});
      const manifest = JSON.parse(readFileSync(path.join(dir, "openclaw.plugin.json"), "utf8"));
      expect(manifest.id, folder).toBe(id);
    }
  });

  it("imports nothing but node builtins and the host's SDK: the project's code and npm packages are bundled in", () => {
    for (const { folder } of BUNDLE_EXTENSIONS) {
      for (const file of modulesOf(folder)) {
        const specs = importsOf(file);
        if (file === distEntry(folder)) expect(specs.length, folder).toBeGreaterThan(0);
        for (const spec of specs) {
          // A chunk of the same package, and nothing outside it.
          const local = spec.startsWith("./") || spec.startsWith("../");
          const inside =
            local && path.resolve(path.dirname(file), spec).startsWith(`${builtPackage(folder)}/`);
          expect(
            spec.startsWith("node:") || spec.startsWith("openclaw/plugin-sdk/") || inside,
            `${path.relative(builtPackage(folder), file)} of ${folder} imports ${spec}`,
          ).toBe(true);
        }
        // Bundled CommonJS packages reach builtins through require(): those only, and never an
        // npm package (the optional native add-ons of ws are tried in a try/catch, may be absent).
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/__require\("([^"]+)"\)/g)) {
          const id = m[1] as string;
          expect(
            builtinModules.includes(id.replace(/^node:/, "")) ||
              ["bufferutil", "utf-8-validate"].includes(id),
            `${folder} requires ${id}`,
          ).toBe(true);
        }
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
