import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import JSON5 from "json5";
// The module itself, not the shared package's barrel: this runs every few seconds and the barrel
// loads winston and zod.
import { BUNDLE_EXTENSIONS, healthPath } from "../packages/shared/src/bundle.ts";

// The image's HEALTHCHECK: healthy when the gateway is ready and no enabled extension of the
// bundle is in an unhealthy state (error, invalid, unconfigured). Exit 0 healthy, 1 not; one
// line saying why on stdout (docker inspect shows it).
const stateDir = process.env.OPENCLAW_STATE_DIR || path.join(process.env.HOME || os.homedir(), ".openclaw");
const configPath = process.env.OPENCLAW_CONFIG_PATH || path.join(stateDir, "openclaw.json");

async function main(): Promise<string | undefined> {
  const config = JSON5.parse(readFileSync(configPath, "utf8")) as {
    gateway?: { port?: number };
    plugins?: { entries?: Record<string, { enabled?: boolean }> };
  };
  const base = `http://127.0.0.1:${config.gateway?.port ?? 18789}`;
  const get = (p: string) => fetch(`${base}${p}`, { signal: AbortSignal.timeout(4000) });
  const ready = await get("/readyz");
  if (!ready.ok) return `gateway not ready (/readyz ${ready.status})`;
  for (const { id } of BUNDLE_EXTENSIONS) {
    if (config.plugins?.entries?.[id]?.enabled !== true) continue;
    const r = await get(healthPath(id));
    const body = (await r.json().catch(() => ({}))) as { state?: string };
    if (!r.ok) return `${id} is ${body.state ?? `unhealthy (${r.status})`}`;
  }
  return undefined;
}

main().then(
  (problem) => {
    process.stdout.write(problem ? `unhealthy: ${problem}\n` : "healthy\n");
    process.exit(problem ? 1 : 0);
  },
  (err: Error) => {
    process.stdout.write(`unhealthy: ${err.message}\n`);
    process.exit(1);
  },
);
