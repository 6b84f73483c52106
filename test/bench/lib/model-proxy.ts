import os from "node:os";
import v8 from "node:v8";
import vm from "node:vm";
import { clawmatrixConfig } from "../../../extensions/clawmatrix/src/config-schema.ts";
import type { MeshNode } from "../../../extensions/clawmatrix/src/mesh/node.ts";
import { createHandlers } from "../../../extensions/clawmatrix/src/serve/handlers.ts";
import { ModelProxy } from "../../../extensions/clawmatrix/src/serve/model-proxy.ts";
import { startMockLlm } from "../../mocks/llm/server.ts";
import { fmt, median, meshNode, quiet, ROUNDS, SECRET, until } from "./mesh-common.ts";

// The model-proxy benchmark (issue 17): a 4000-event streamed reply from the mock model, called
// directly and through node-a's model proxy, the mesh and node-b's handler, in alternating
// rounds, everything in this process.

const WORDS = 4000;
const SETTLE_MS = 15_000;

interface Streamed {
  ttfc: number;
  total: number;
  chunks: number;
  /** CPU ms of the whole process (mock, nodes and client are all here) during the call. */
  cpu: number;
}

/**
 * A full collection, outside the timed calls: both paths share this heap, and without it the
 * garbage one call leaves is collected inside the next call's time (a mesh call's, 2-3 MB of
 * strings, then lands in the direct baseline's figures).
 */
function collectGarbage(): void {
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

/** Time to first chunk, total time and CPU time of one streamed completion. */
async function streamOnce(url: string, headers: Record<string, string>, words: number): Promise<Streamed> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({
      model: "mock-model",
      stream: true,
      messages: [{ role: "user", content: "w ".repeat(words) }],
    }),
  });
  let ttfc = 0;
  let chunks = 0;
  for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (!ttfc) ttfc = performance.now() - t0;
    chunks += String(Buffer.from(piece)).split("data: ").length - 1;
  }
  const c = process.cpuUsage(c0);
  return { ttfc, total: performance.now() - t0, chunks, cpu: (c.user + c.system) / 1000 };
}

/** Alternating rounds, direct and through a proxy on node-a. */
async function compare(title: string, a: MeshNode, llmUrl: string): Promise<void> {
  await until(() => a.table.modelCandidates("mock-model").includes("node-b"), SETTLE_MS);
  const proxy = new ModelProxy({ node: a, secret: SECRET, port: 0, timeoutMs: 60_000, log: quiet });
  await proxy.start();
  const direct = `${llmUrl}/chat/completions`;
  const viaMesh = `http://127.0.0.1:${proxy.port}/node/node-b/v1/chat/completions`;
  const auth = { authorization: `Bearer ${SECRET}` };
  await streamOnce(direct, {}, 50);
  await streamOnce(viaMesh, auth, 50);
  const d: Streamed[] = [];
  const m: Streamed[] = [];
  for (let r = 0; r < ROUNDS * 3; r++) {
    collectGarbage();
    d.push(await streamOnce(direct, {}, WORDS));
    collectGarbage();
    m.push(await streamOnce(viaMesh, auth, WORDS));
  }
  await proxy.stop();
  const dT = median(d.map((x) => x.ttfc));
  const mT = median(m.map((x) => x.ttfc));
  const dR = median(d.map((x) => x.chunks / x.total));
  const mR = median(m.map((x) => x.chunks / x.total));
  console.log(`${title}, ~${m[0]?.chunks} chunks per reply, ${ROUNDS * 3} alternating rounds (median):`);
  console.log(
    `  time to first chunk: direct ${fmt(dT)} ms, via the mesh ${fmt(mT)} ms, +${fmt(mT - dT)} ms   (target +<= 2 ms)`,
  );
  console.log(
    `  throughput: direct ${fmt(dR)} chunks/ms, via the mesh ${fmt(mR)} chunks/ms, ${(mR / dR).toFixed(2)}x   (target >= 0.9x)`,
  );
  // All parts share this process, so CPU per reply shows what the mesh path adds even when the
  // machine's load moves wall times (the mock's own writing is in both).
  const dC = median(d.map((x) => x.cpu));
  const mC = median(m.map((x) => x.cpu));
  console.log(`  CPU per reply: direct ${fmt(dC)} ms, via the mesh ${fmt(mC)} ms, +${fmt(mC - dC)} ms`);
}

/** Everything in this process: every stage takes its turn on one event loop. */
export async function modelProxy(): Promise<void> {
  const llm = await startMockLlm({ name: "bench-llm", models: ["mock-model"] });
  const config = clawmatrixConfig.schema.parse({ models: [{ id: "mock-model", provider: "llm" }] });
  const endpoint = { url: llm.url.replace(/\/+$/, ""), token: undefined };
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const b = await meshNode("node-b", {
    peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.listenPort}` }],
    state: { agents: [], models: [{ id: "mock-model" }], tags: [], toolProxy: false },
    handlers: createHandlers({
      nodeId: "node-b",
      config,
      gateway: () => endpoint,
      provider: () => endpoint,
      workspace: () => os.tmpdir(),
      log: quiet,
    }),
  });
  try {
    await compare("model proxy streaming", a, llm.url);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await llm.close();
  }
}
