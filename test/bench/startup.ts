import { type GatewaySpec, startGateways, stopGateways } from "../harness/gateway.ts";

/** Alternating runs so both variants see the same machine noise. */
export const DEFAULT_ROUNDS = 3;

const BUNDLE_ENV = {
  CLAWMATRIX_SECRET: "bench-secret-0123456789",
  AUTH_MANAGER_INTERNAL_API_TOKEN: "bench-token-0123",
};

function bundleSpec(): GatewaySpec {
  return {
    name: "bundle",
    env: BUNDLE_ENV,
    extensions: {
      clawmatrix: { nodeId: "bench", secret: "${CLAWMATRIX_SECRET}" },
      "agentrux-openclaw-plugin": { commandTopicId: "c", resultTopicId: "r", agentId: "main" },
      "agent-registry": { registryUrl: "http://127.0.0.1:9", hostname: "bench" },
      "auth-manager-lease-telemetry": {
        baseUrl: "http://127.0.0.1:9",
        internalApiToken: "${AUTH_MANAGER_INTERNAL_API_TOKEN}",
      },
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function once(spec: GatewaySpec): Promise<{ readyMs: number; rssMb: number }> {
  const [g] = await startGateways([spec]);
  if (!g) throw new Error("gateway did not start");
  // RSS settles a few seconds after /readyz (channels and sidecars start after the HTTP server).
  await new Promise((r) => setTimeout(r, 5000));
  const rssMb = g.rssKb() / 1024;
  const readyMs = g.readyAfterMs ?? Number.NaN;
  await stopGateways([g]);
  return { readyMs, rssMb };
}

export async function benchStartup(rounds = DEFAULT_ROUNDS): Promise<Record<string, number>> {
  const bare: Array<{ readyMs: number; rssMb: number }> = [];
  const bundle: Array<{ readyMs: number; rssMb: number }> = [];
  // A first, unmeasured start warms the compile cache so neither variant pays for it.
  await once({ name: "warmup" });
  for (let i = 0; i < rounds; i++) {
    bare.push(await once({ name: `bare-${i}` }));
    bundle.push(await once({ ...bundleSpec(), name: `bundle-${i}` }));
  }
  const r = {
    bareReadyMs: median(bare.map((x) => x.readyMs)),
    bundleReadyMs: median(bundle.map((x) => x.readyMs)),
    bareRssMb: median(bare.map((x) => x.rssMb)),
    bundleRssMb: median(bundle.map((x) => x.rssMb)),
  };
  const loaded = Object.keys(bundleSpec().extensions ?? {}).length;
  console.log(`startup (${rounds} alternating rounds, ${loaded} extensions, median)`);
  console.log(
    `  time to /readyz: bare ${r.bareReadyMs.toFixed(0)} ms, bundle ${r.bundleReadyMs.toFixed(0)} ms, ratio ${(r.bundleReadyMs / r.bareReadyMs).toFixed(2)}x`,
  );
  console.log(
    `  RSS (gateway + children): bare ${r.bareRssMb.toFixed(0)} MB, bundle ${r.bundleRssMb.toFixed(0)} MB, ratio ${(r.bundleRssMb / r.bareRssMb).toFixed(2)}x`,
  );
  return r;
}

/** Entry for `npm run bench`: BENCH_ROUNDS alternating rounds (default 3). */
export function run(): Promise<Record<string, number>> {
  return benchStartup(Number(process.env.BENCH_ROUNDS ?? DEFAULT_ROUNDS));
}
