import { type ChildProcess, fork } from "node:child_process";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { clawmatrixConfig } from "../../../extensions/clawmatrix/src/config-schema.ts";
import type { MeshNode } from "../../../extensions/clawmatrix/src/mesh/node.ts";
import { createHandlers } from "../../../extensions/clawmatrix/src/serve/handlers.ts";
import { ModelProxy } from "../../../extensions/clawmatrix/src/serve/model-proxy.ts";
import { findNode24 } from "../../harness/node24.ts";
import { startMockLlm } from "../../mocks/llm/server.ts";
import { fmt, median, meshNode, quiet, ROUNDS, SECRET, until } from "./mesh-common.ts";

// The model-proxy benchmark (issue 17): a 4000-event streamed reply from the mock model, called
// directly and through node-a's model proxy, the mesh and node-b's handler, in alternating
// rounds: once with everything in this process (its CPU is what the mesh path adds), once with
// the model, node-a and node-b each in a process of its own, as a deployment runs them.

const WORDS = 4000;
/** The paced row: a reply of PACED_WORDS events, one every PACE_MS. */
const PACED_WORDS = 200;
const PACE_MS = 2;
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

/**
 * A TCP forwarder on loopback: every byte from a client to `port` and back, nothing parsed.
 * Two in a row are the floor of a two-stage path (node-b, node-a): the bytes read and written
 * twice more, with no HTTP, SSE, framing or sealing at all.
 */
async function tcpForwarder(port: number): Promise<{ port: number; close(): void }> {
  const server = net.createServer({ noDelay: true }, (c) => {
    const up = net.connect({ port, host: "127.0.0.1", noDelay: true });
    c.pipe(up).pipe(c);
    for (const s of [c, up]) s.on("error", () => (s === c ? up : c).destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
    },
  };
}

interface CompareOptions {
  /** Words in the reply: one event each. */
  words?: number;
  /** Also through two TCP forwarders, the floor of a two-stage path. */
  withFloor?: boolean;
  /** A paced model: the targets (set for a burst) are not printed. */
  paced?: boolean;
}

/** Alternating rounds, direct and through a proxy on node-a (and through the floor, if asked). */
async function compare(title: string, a: MeshNode, llmUrl: string, o: CompareOptions = {}): Promise<void> {
  const { words = WORDS, withFloor = false, paced = false } = o;
  await until(() => a.table.modelCandidates("mock-model").includes("node-b"), SETTLE_MS);
  const proxy = new ModelProxy({ node: a, secret: SECRET, port: 0, timeoutMs: 60_000, log: quiet });
  await proxy.start();
  const direct = `${llmUrl}/chat/completions`;
  const viaMesh = `http://127.0.0.1:${proxy.port}/node/node-b/v1/chat/completions`;
  const auth = { authorization: `Bearer ${SECRET}` };
  const first = withFloor ? await tcpForwarder(Number(new URL(llmUrl).port)) : undefined;
  const second = first && (await tcpForwarder(first.port));
  const viaFloor = second && `http://127.0.0.1:${second.port}${new URL(llmUrl).pathname}/chat/completions`;
  await streamOnce(direct, {}, 50);
  await streamOnce(viaMesh, auth, 50);
  if (viaFloor) await streamOnce(viaFloor, {}, 50);
  const d: Streamed[] = [];
  const m: Streamed[] = [];
  const f: Streamed[] = [];
  for (let r = 0; r < ROUNDS * 3; r++) {
    collectGarbage();
    d.push(await streamOnce(direct, {}, words));
    collectGarbage();
    m.push(await streamOnce(viaMesh, auth, words));
    if (!viaFloor) continue;
    collectGarbage();
    f.push(await streamOnce(viaFloor, {}, words));
  }
  await proxy.stop();
  first?.close();
  second?.close();
  report(title, d, m, !paced);
  if (viaFloor) {
    const ratio = median(d.map((x) => x.total)) / median(f.map((x) => x.total));
    console.log(
      `  floor, two TCP forwarders in a row in this process (the bytes read and written twice more, nothing parsed): throughput ${ratio.toFixed(2)}x, first chunk +${fmt(median(f.map((x) => x.ttfc)) - median(d.map((x) => x.ttfc)))} ms`,
    );
  }
  // All parts share this process, so CPU per reply shows what the mesh path adds even when the
  // machine's load moves wall times (the mock's own writing is in both).
  const dC = median(d.map((x) => x.cpu));
  const mC = median(m.map((x) => x.cpu));
  console.log(`  CPU per reply: direct ${fmt(dC)} ms, via the mesh ${fmt(mC)} ms, +${fmt(mC - dC)} ms`);
}

/** Time to first chunk and throughput, direct (d) and via the mesh (m), as medians. */
function report(title: string, d: Streamed[], m: Streamed[], targets = true): void {
  const dT = median(d.map((x) => x.ttfc));
  const mT = median(m.map((x) => x.ttfc));
  const dR = median(d.map((x) => x.chunks / x.total));
  const mR = median(m.map((x) => x.chunks / x.total));
  console.log(`${title}, ~${m[0]?.chunks} chunks per reply, ${m.length} alternating rounds (median):`);
  console.log(
    `  time to first chunk: direct ${fmt(dT)} ms, via the mesh ${fmt(mT)} ms, +${fmt(mT - dT)} ms${targets ? "   (target +<= 2 ms)" : ""}`,
  );
  console.log(
    `  throughput: direct ${fmt(dR)} chunks/ms, via the mesh ${fmt(mR)} chunks/ms, ${(mR / dR).toFixed(2)}x${targets ? "   (target >= 0.9x)" : ""}`,
  );
}

/** node-b: dials node-a and serves the model at `modelUrl` (an OpenAI-style `/v1` base). */
export function modelNode(aUrl: string, modelUrl: string): Promise<MeshNode> {
  const config = clawmatrixConfig.schema.parse({ models: [{ id: "mock-model", provider: "llm" }] });
  const endpoint = { url: modelUrl.replace(/\/+$/, ""), token: undefined };
  return meshNode("node-b", {
    peers: [{ nodeId: "node-a", url: aUrl }],
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
}

/**
 * The same through a relay, in this process: node-c's proxy reaches node-b through node-a, as
 * the quick start's node-c does. The relay forwards each chunk's data bytes as they came.
 */
export async function modelProxyRelayed(): Promise<void> {
  const llm = await startMockLlm({ name: "bench-llm", models: ["mock-model"] });
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const url = `ws://127.0.0.1:${a.listenPort}`;
  const b = await modelNode(url, llm.url);
  const c = await meshNode("node-c", { peers: [{ nodeId: "node-a", url }] });
  try {
    await until(() => c.table.route("node-b")?.via === "node-a", SETTLE_MS);
    await compare(
      "model proxy streaming through a relay (node-c's proxy, node-a relays, node-b's model)",
      c,
      llm.url,
    );
  } finally {
    await Promise.all([a.stop(), b.stop(), c.stop()]);
    await llm.close();
  }
}

/**
 * A model that streams as models do, an event every PACE_MS, in this process: what a user
 * notices through the mesh is then the first event's delay and the reply's length; the burst's
 * targets above do not apply.
 */
export async function modelProxyPaced(): Promise<void> {
  const llm = await startMockLlm({ name: "bench-llm", models: ["mock-model"], chunkDelayMs: PACE_MS });
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const b = await modelNode(`ws://127.0.0.1:${a.listenPort}`, llm.url);
  try {
    await compare(`model proxy streaming a paced model (an event every ${PACE_MS} ms)`, a, llm.url, {
      words: PACED_WORDS,
      paced: true,
    });
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await llm.close();
  }
}

/** Everything in this process: every stage takes its turn on one event loop. */
export async function modelProxy(): Promise<void> {
  const llm = await startMockLlm({ name: "bench-llm", models: ["mock-model"] });
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const b = await modelNode(`ws://127.0.0.1:${a.listenPort}`, llm.url);
  try {
    await compare("model proxy streaming", a, llm.url, { withFloor: true });
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await llm.close();
  }
}

/** A stage of the path in its own process (model-proxy-stage.ts), spoken to over IPC. */
class Stage {
  readonly #child: ChildProcess;
  readonly #unclaimed: Record<string, unknown>[] = [];
  readonly #waiting = new Set<{
    key: string;
    resolve: (m: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }>();

  constructor(args: string[]) {
    this.#child = fork(path.join(import.meta.dirname, "model-proxy-stage.ts"), args, {
      execPath: findNode24(),
      execArgv: process.env.BENCH_STAGE_PROF
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_STAGE_PROF}`]
        : [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (m: Record<string, unknown>) => {
      for (const w of this.#waiting)
        if (w.key in m) {
          this.#waiting.delete(w);
          return w.resolve(m);
        }
      this.#unclaimed.push(m); // e.g. "listening" while the parent still waits for another stage
    });
    this.#child.on("exit", (code) => {
      for (const w of this.#waiting) w.reject(new Error(`bench stage ${args[0]} exited (${code})`));
      this.#waiting.clear();
    });
  }

  /** The next message carrying `key`. */
  when(key: string, ms = 30_000): Promise<Record<string, unknown>> {
    const i = this.#unclaimed.findIndex((m) => key in m);
    if (i >= 0) return Promise.resolve(this.#unclaimed.splice(i, 1)[0] as Record<string, unknown>);
    return new Promise((resolve, reject) => {
      const w = { key, resolve, reject };
      this.#waiting.add(w);
      setTimeout(() => {
        if (this.#waiting.delete(w)) reject(new Error(`bench stage: no "${key}" within ${ms} ms`));
      }, ms).unref();
    });
  }

  async cpu(): Promise<number> {
    const m = this.when("cpu");
    this.#child.send({ cpu: true });
    return (await m).cpu as number;
  }

  /** Ends it as a deployment would (a profile, when asked for, is written at exit). */
  stop(): void {
    if (this.#child.connected) this.#child.disconnect();
    setTimeout(() => this.#child.kill(), 5000).unref();
  }
}

/** The model, node-a and node-b each in a process of its own; the client in this one. */
export async function modelProxySeparate(): Promise<void> {
  const llm = new Stage(["llm"]);
  const a = new Stage(["node-a"]);
  const stages = [llm, a];
  try {
    const llmUrl = (await llm.when("ready")).url as string;
    const aUrl = (await a.when("listening")).listening as string;
    const b = new Stage(["node-b", aUrl, llmUrl]);
    stages.push(b);
    await b.when("ready");
    const proxyUrl = (await a.when("ready")).url as string;
    const direct = `${llmUrl}/chat/completions`;
    const viaMesh = `${proxyUrl}/node/node-b/v1/chat/completions`;
    const auth = { authorization: `Bearer ${SECRET}` };
    // Fresh processes: full-size replies first, so the stages' code is compiled before timing.
    for (let i = 0; i < 5; i++) {
      await streamOnce(direct, {}, WORDS);
      await streamOnce(viaMesh, auth, WORDS);
    }
    // CPU ms of each stage (model, node-a, node-b) during each call.
    const cpuOfStages = () => Promise.all(stages.map((s) => s.cpu()));
    const d: Streamed[] = [];
    const m: Streamed[] = [];
    const perStage: number[][] = [];
    for (let r = 0; r < ROUNDS * 3; r++) {
      for (const [out, url, headers] of [
        [d, direct, {}],
        [m, viaMesh, auth],
      ] as const) {
        const c0 = await cpuOfStages();
        const x = await streamOnce(url, headers, WORDS);
        const used = (await cpuOfStages()).map((c, i) => c - (c0[i] as number));
        out.push({ ...x, cpu: used.reduce((a, b) => a + b, 0) });
        if (out === m) perStage.push(used);
      }
    }
    report("model proxy streaming, one process per stage (model, node-a, node-b; client here)", d, m);
    const dC = median(d.map((x) => x.cpu));
    const mC = median(m.map((x) => x.cpu));
    const stageMedian = (i: number) => fmt(median(perStage.map((u) => u[i] as number)));
    console.log(
      `  CPU of the stages per reply: direct ${fmt(dC)} ms (the model), via the mesh ${fmt(mC)} ms, +${fmt(mC - dC)} ms ` +
        `(model ${stageMedian(0)}, node-a ${stageMedian(1)}, node-b ${stageMedian(2)})`,
    );
  } finally {
    for (const s of stages) s.stop();
  }
}
