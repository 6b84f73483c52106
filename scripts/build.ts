/**
 * Compiles each extension into a plugin package of its own, `dist/extensions/<folder>/`: one ES
 * module (`index.js`), a package.json naming it, and the extension's `openclaw.plugin.json`. The
 * gateway loads these folders, never the TypeScript sources (whose run-time transpiler the host's
 * docs call an emergency path).
 *
 * Everything is bundled in: the extension's code, `@openclaw-bundle/shared` and its npm packages
 * (zod, winston, ws, ...); only node builtins and `openclaw/*` (the host's own SDK) stay imports,
 * and the package declares no dependencies. That is what makes a plugin cheap to load: the host
 * captures each plugin package's declared dependency tree into a private copy per plugin instance
 * before it loads it (OPENCLAW-HOST.md; docs/plugins/architecture.md "Runtime instance and source
 * lifetime"), which measured 2-4 s per extension per load on a loaded two-core machine, twice per
 * start, against ~0.1-0.3 s for running the extension's own module.
 *
 * Usage: `node scripts/build.ts [--check]`. `--check` exits 1, naming the extension, when a build
 * is missing or older than a source it is built from (the tests call `ensureBuilt()`, which builds
 * instead). The image, `./bundle start|test`, the tests and the benchmarks all load this output.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { BUNDLE_EXTENSIONS } from "../packages/shared/src/bundle.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SOURCE_ROOTS = ["packages/shared/src", "packages/shared/package.json"];

const SHARED_ENTRY = path.join(ROOT, "packages/shared/src/index.ts");

/** Where the compiled plugin packages go; entrypoint.sh's default `OPENCLAW_BUNDLE_EXTENSIONS`. */
export const BUILT_EXTENSIONS_DIR = path.join(ROOT, "dist", "extensions");
export const builtPackage = (folder: string) => path.join(BUILT_EXTENSIONS_DIR, folder);
export const distEntry = (folder: string) => path.join(builtPackage(folder), "index.js");
/** Where a plugin package's lazily loaded chunks go, beside its entry. */
export const CHUNKS_DIR = "chunks";

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

/** Optional native add-ons that `ws` tries to require and does without: left as imports. */
const OPTIONAL_NATIVE = new Set(["bufferutil", "utf-8-validate"]);

/** Bare imports that stay imports: node builtins and the host's SDK; everything else is bundled. */
function isExternal(id: string): boolean {
  if (id.startsWith("node:") || id === "openclaw" || id.startsWith("openclaw/")) return true;
  if (OPTIONAL_NATIVE.has(id)) return true;
  return builtinModules.includes(id);
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
      name: string;
      version: string;
      description?: string;
      openclaw?: { extensions?: string[] };
      peerDependencies?: Record<string, string>;
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
    const out = builtPackage(folder);
    // Parts loaded on first use (dynamic imports: the A2A SDK, say) become chunks of their own,
    // so registration does not evaluate them; stale chunks of an earlier build go first.
    rmSync(path.join(out, CHUNKS_DIR), { recursive: true, force: true });
    try {
      // No source map: the host reads every file of a plugin package on each load, and the
      // bundle is plain, unminified JavaScript whose stack traces read well as they are.
      await bundle.write({
        dir: out,
        entryFileNames: "index.js",
        chunkFileNames: `${CHUNKS_DIR}/[name]-[hash].js`,
        format: "esm",
        sourcemap: false,
      });
    } finally {
      await bundle.close();
    }
    mkdirSync(out, { recursive: true });
    copyFileSync(path.join(dir, "openclaw.plugin.json"), path.join(out, "openclaw.plugin.json"));
    const built = {
      name: pkg.name,
      version: pkg.version,
      ...(pkg.description ? { description: pkg.description } : {}),
      private: true,
      type: "module",
      openclaw: { extensions: ["./index.js"] },
      // Bundled in: declaring them would make the host copy their tree for every plugin instance.
      dependencies: {},
      ...(pkg.peerDependencies ? { peerDependencies: pkg.peerDependencies } : {}),
    };
    writeFileSync(path.join(out, "package.json"), `${JSON.stringify(built, null, 2)}\n`);
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
