/**
 * Compiles each extension to one ES module, `extensions/<folder>/dist/index.js`, which its
 * package.json names in `openclaw.runtimeExtensions`. The host loads compiled JavaScript natively;
 * a TypeScript entry goes through its run-time transpiler, which its docs call an emergency path
 * and which made the bundle's start 2.5-3.5x a bare gateway's (OPENCLAW-HOST.md).
 *
 * The extension's own code and `@openclaw-bundle/shared` are bundled in; npm packages (zod,
 * winston, ws, ...) stay imports, resolved from the bundle's node_modules, so the four extensions
 * share one copy of each; `openclaw/*` stays an import the host resolves to its own SDK.
 *
 * Usage: `node scripts/build.ts [--check]`. `--check` exits 1, naming the extension, when a dist
 * is missing or older than a source it is built from (the tests call `ensureBuilt()`, which builds
 * instead). The image, `./bundle start|test`, the tests and the benchmarks all load this output.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { BUNDLE_EXTENSIONS } from "../packages/shared/src/bundle.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SOURCE_ROOTS = ["packages/shared/src", "packages/shared/package.json"];

const SHARED_ENTRY = path.join(ROOT, "packages/shared/src/index.ts");

export const distEntry = (folder: string) => path.join(ROOT, "extensions", folder, "dist", "index.js");

/** Newest modification time under `p` (a file or a folder, tests and dist excluded). */
function newestMtime(p: string): number {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(p, { withFileTypes: true })) {
    if (e.name === "dist" || e.name === "node_modules" || e.name.endsWith(".test.ts")) continue;
    newest = Math.max(newest, newestMtime(path.join(p, e.name)));
  }
  return newest;
}

/** Extensions whose dist is missing or older than their sources or the shared package. */
export function staleExtensions(): string[] {
  const shared = Math.max(...SOURCE_ROOTS.map((p) => newestMtime(path.join(ROOT, p))));
  return BUNDLE_EXTENSIONS.filter(({ folder }) => {
    const built = statSync(distEntry(folder), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    return built < Math.max(shared, newestMtime(path.join(ROOT, "extensions", folder)));
  }).map((e) => e.folder);
}

/** Bare imports that stay imports: node builtins, the host's SDK and every npm dependency. */
function isExternal(id: string): boolean {
  if (id.startsWith("node:") || id === "openclaw" || id.startsWith("openclaw/")) return true;
  if (id.startsWith(".") || path.isAbsolute(id) || id.startsWith("@openclaw-bundle/")) return false;
  return true;
}

/**
 * The bundler: from the project's own dev install, or from `BUNDLE_TOOL_DIR` (a folder whose
 * node_modules holds it), which the image's build stage uses instead of a full dev install.
 */
function rolldownUrl(): string {
  const base = process.env.BUNDLE_TOOL_DIR ? path.resolve(process.env.BUNDLE_TOOL_DIR) : ROOT;
  return pathToFileURL(createRequire(path.join(base, "package.json")).resolve("rolldown")).href;
}

/** Builds the given extensions (default: all). */
export async function build(folders: readonly string[] = BUNDLE_EXTENSIONS.map((e) => e.folder)) {
  const { rolldown } = (await import(rolldownUrl())) as typeof import("rolldown");
  for (const folder of folders) {
    const dir = path.join(ROOT, "extensions", folder);
    const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
      openclaw?: { extensions?: string[] };
    };
    const entry = pkg.openclaw?.extensions?.[0];
    if (!entry) throw new Error(`extensions/${folder}/package.json: no openclaw.extensions entry`);
    const bundle = await rolldown({
      input: path.join(dir, entry),
      platform: "node",
      external: isExternal,
      // By path, not through node_modules: the image's build stage has no workspace links.
      resolve: { alias: { "@openclaw-bundle/shared": SHARED_ENTRY } },
      logLevel: "warn",
      onLog(level, log, forward) {
        // An import it cannot find would be left as an import the gateway then fails on.
        if (log.code === "UNRESOLVED_IMPORT") throw new Error(`extensions/${folder}: ${log.message}`);
        forward(level, log);
      },
    });
    try {
      await bundle.write({ file: distEntry(folder), format: "esm", sourcemap: true });
    } finally {
      await bundle.close();
    }
  }
}

/** Builds what is stale; returns the folders it built. */
export async function ensureBuilt(): Promise<string[]> {
  const stale = staleExtensions();
  if (stale.length) await build(stale);
  return stale;
}

if (import.meta.main) {
  if (process.argv.includes("--check")) {
    const stale = staleExtensions();
    if (stale.length) {
      process.stderr.write(
        `not built or older than their sources: ${stale.join(", ")} (run npm run build)\n`,
      );
      process.exit(1);
    }
  } else {
    const t0 = performance.now();
    await build();
    process.stdout.write(
      `built ${BUNDLE_EXTENSIONS.length} extensions in ${Math.round(performance.now() - t0)} ms\n`,
    );
  }
}
