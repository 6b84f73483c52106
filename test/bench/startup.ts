import { mkdtempSync, readFileSync } from "node:fs";
import path from "node:path";
import { type GatewaySpec, runRoot, startGateways, stopGateways } from "../harness/gateway.ts";
import { parseLoadProfile, pluginTotalMs } from "./lib/load-profile.ts";

/** Alternating runs so both variants see the same machine noise. */
export const DEFAULT_ROUNDS = 3;
/** RSS settles a few seconds after /readyz (channels and sidecars start after the HTTP server). */
const RSS_SETTLE_MS = 5000;

const BUNDLE_ENV = {
  CLAWMATRIX_SECRET: "bench-secret-0123456789",
  AUTH_MANAGER_INTERNAL_API_TOKEN: "bench-token-0123",
};
const EXTENSIONS: NonNullable<GatewaySpec["extensions"]> = {
  clawmatrix: { nodeId: "bench", secret: "${CLAWMATRIX_SECRET}" },
  "agentrux-openclaw-plugin": { commandTopicId: "c", resultTopicId: "r", agentId: "main" },
  "agent-registry": { registryUrl: "http://127.0.0.1:9", hostname: "bench" },
  "auth-manager-lease-telemetry": {
    baseUrl: "http://127.0.0.1:9",
    internalApiToken: "${AUTH_MANAGER_INTERNAL_API_TOKEN}",
  },
};

interface Sample {
  readyMs: number;
  cpuMs: number;
  rssMb: number;
}
type Variant = "bare" | "bundle";
type Cache = "cold" | "warm";

/**
 * One start. The host keeps its Node compile cache under the temporary directory
 * (`$TMPDIR/node-compile-cache`, see openclaw.mjs), so a fresh TMPDIR is a cold start (what a new
 * container without a warmed cache pays) and a reused one a warm start.
 */
async function once(variant: Variant, name: string, tmpdir: string, extraEnv: Record<string, string> = {}) {
  const spec: GatewaySpec =
    variant === "bundle"
      ? { name, env: { ...BUNDLE_ENV, TMPDIR: tmpdir, ...extraEnv }, extensions: EXTENSIONS }
      : { name, env: { TMPDIR: tmpdir, ...extraEnv } };
  const [g] = await startGateways([spec]);
  if (!g) throw new Error("gateway did not start");
  const cpuMs = g.cpuMs();
  await new Promise((r) => setTimeout(r, RSS_SETTLE_MS));
  const sample: Sample = { readyMs: g.readyAfterMs ?? Number.NaN, cpuMs, rssMb: g.rssKb() / 1024 };
  const out = g.outFile;
  await stopGateways([g]);
  return { sample, out };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function line(label: string, unit: string, bare: number, bundle: number, digits = 0): string {
  return `  ${label}: bare ${bare.toFixed(digits)} ${unit}, bundle ${bundle.toFixed(digits)} ${unit}, ratio ${(bundle / bare).toFixed(2)}x, delta ${(bundle - bare).toFixed(digits)} ${unit}`;
}

export async function benchStartup(rounds = DEFAULT_ROUNDS): Promise<Record<string, number>> {
  const root = runRoot();
  const warmDir = mkdtempSync(path.join(root, "warm-tmp-"));
  const samples: Record<`${Variant}-${Cache}`, Sample[]> = {
    "bare-cold": [],
    "bundle-cold": [],
    "bare-warm": [],
    "bundle-warm": [],
  };
  // An unmeasured bundle start fills the shared warm cache with the host's modules and ours.
  await once("bundle", "warmup", warmDir);
  for (let i = 0; i < rounds; i++) {
    for (const cache of ["cold", "warm"] as const) {
      for (const variant of ["bare", "bundle"] as const) {
        const tmp = cache === "warm" ? warmDir : mkdtempSync(path.join(root, "cold-tmp-"));
        const { sample } = await once(variant, `${variant}-${cache}-${i}`, tmp);
        samples[`${variant}-${cache}`].push(sample);
      }
    }
  }
  const m = (k: keyof typeof samples, f: keyof Sample) => median(samples[k].map((s) => s[f]));
  const r: Record<string, number> = {};
  for (const k of Object.keys(samples) as Array<keyof typeof samples>)
    for (const f of ["readyMs", "cpuMs", "rssMb"] as const) r[`${k}.${f}`] = m(k, f);

  console.log(
    `startup (${rounds} alternating rounds of bare and bundle, cold and warm compile cache, median)`,
  );
  for (const cache of ["cold", "warm"] as const) {
    console.log(` ${cache} start (${cache === "cold" ? "empty" : "warmed"} Node compile cache):`);
    console.log(
      line("time to /readyz", "ms", m(`bare-${cache}`, "readyMs"), m(`bundle-${cache}`, "readyMs")),
    );
    console.log(
      line(
        "CPU to /readyz (gateway + children)",
        "ms",
        m(`bare-${cache}`, "cpuMs"),
        m(`bundle-${cache}`, "cpuMs"),
      ),
    );
    console.log(
      line("RSS 5 s after /readyz", "MB", m(`bare-${cache}`, "rssMb"), m(`bundle-${cache}`, "rssMb")),
    );
  }

  // The host's own load profiler, on one more (warm, unmeasured) start: what each extension costs
  // while the host loads and registers it.
  const { out } = await once("bundle", "load-profile", warmDir, {
    OPENCLAW_DIAGNOSTICS: "plugin.load-profile",
  });
  const profile = parseLoadProfile(readFileSync(out, "utf8"));
  console.log(" per-extension load profile (OPENCLAW_DIAGNOSTICS=plugin.load-profile, warm start):");
  for (const id of Object.keys(EXTENSIONS)) {
    const phases = [...(profile.byPlugin.get(id) ?? [])].map(([p, ms]) => `${p} ${ms.toFixed(1)}`).join(", ");
    const total = pluginTotalMs(profile, id);
    r[`profile.${id}.ms`] = total;
    console.log(`  ${id}: ${total.toFixed(1)} ms (${phases || "no profile lines"})`);
  }
  if (profile.unparsed)
    console.log(`  (${profile.unparsed} profile lines in an unknown format were skipped)`);
  return r;
}

/** Entry for `npm run bench`: BENCH_ROUNDS alternating rounds (default 3). */
export function run(): Promise<Record<string, number>> {
  return benchStartup(Number(process.env.BENCH_ROUNDS ?? DEFAULT_ROUNDS));
}
