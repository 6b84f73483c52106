import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { agentruxConfig } from "../../extensions/agentrux/src/config-schema.ts";
import type { TurnRequest } from "../../extensions/agentrux/src/dispatch.ts";
import { AgentruxService, type Config } from "../../extensions/agentrux/src/service.ts";
import { type MockBroker, startBrokerWithScript } from "../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";
import { channelBench } from "./lib/agentrux-channel.ts";

// AgenTrux ingress benchmarks (issue 4). The service runs as in a gateway, against the mock
// broker; its agent turn goes straight to the mock LLM's /v1/chat/completions instead of the
// host's channel pipeline, so the figures are the plugin's own path, not an agent's thinking.
// Baseline, measured in the same run: the broker's own publish + read round trip over HTTP.

const quiet = createLogger({ extension: "bench", sink: { info() {}, warn() {}, error() {}, debug() {} } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] as number;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent turn as a bare model call: what the host pipeline would add is not this plugin's cost. */
async function llmTurn(llm: MockLlm, t: TurnRequest): Promise<string> {
  const res = await fetch(`${llm.url.replace(/\/v1$/, "")}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: t.bodyForAgent }] }),
    signal: t.signal,
  });
  const j = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
  return j.choices?.[0]?.message?.content ?? "";
}

interface Rig {
  broker: MockBroker;
  llm: MockLlm;
  home: string;
  config: Config;
  service(): AgentruxService;
}

async function rig(pollIntervalMs: number): Promise<Rig> {
  const llm = await startMockLlm({ name: "bench-llm" });
  const { broker, script } = await startBrokerWithScript();
  const home = mkdtempSync(path.join(os.tmpdir(), "bench-agentrux-"));
  const dir = path.join(home, ".agentrux");
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(path.join(dir, "BOOTSTRAP.md"), `${broker.agentrux.book.issueCode(script.id, 1)}\n`, {
    mode: 0o600,
  });
  const config = agentruxConfig.schema.parse({
    commandTopicId: "cmd",
    resultTopicId: "res",
    agentId: "main",
    baseUrl: broker.url,
    pollIntervalMs,
  }) as Config;
  return {
    broker,
    llm,
    home,
    config,
    service: () => new AgentruxService(config, quiet, (t: TurnRequest) => llmTurn(llm, t), home),
  };
}

const publish = (b: MockBroker, id: string) =>
  fetch(`${b.url}/_control/agentrux/topics/cmd/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "openclaw.request",
      payload: { request_id: id, conversation_key: id, message: id },
    }),
  });

/** ms from publish to the agent call carrying the request id (the dispatch), one at a time. */
async function latencies(r: Rig, n: number, prefix: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const t0 = Date.now();
    await publish(r.broker, id);
    const end = t0 + 10_000;
    let at: number | undefined;
    while (at === undefined && Date.now() < end) {
      at = r.llm.requests.find((q) => q.lastUserText.includes(id))?.at;
      if (at === undefined) await sleep(1);
    }
    if (at === undefined) throw new Error(`${id} was not dispatched within 10 s`);
    out.push(at - t0);
  }
  return out;
}

/** The broker's own cost: publish over HTTP, then read the event back over HTTP. */
async function baseline(r: Rig, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await publish(r.broker, `base-${i}`);
    await fetch(`${r.broker.url}/_control/agentrux/topics/cmd/events`).then((x) => x.json());
    out.push(performance.now() - t0);
  }
  return out;
}

async function latencyBench(): Promise<void> {
  const r = await rig(1000);
  const s = r.service();
  await s.start();
  while (s.sse !== "open") await sleep(10);
  await latencies(r, 20, "warm");
  const base = await baseline(r, 200);
  const sse = await latencies(r, 200, "sse");
  console.log(
    `publish -> dispatch with SSE: median ${median(sse)} ms, p95 ${p95(sse)} ms (target median <= 50 ms); ` +
      `baseline publish+read ${median(base).toFixed(2)} ms; ratio ${(median(sse) / median(base)).toFixed(1)}x`,
  );
  // SSE refused from now on: only the safety poller (every 1000 ms here) brings requests in.
  await fetch(`${r.broker.url}/_control/agentrux/fail-next`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ status: 503, count: 100_000, path: "/topics/cmd/events/stream" }),
  });
  await fetch(`${r.broker.url}/_control/agentrux/cut-streams`, { method: "POST" });
  await sleep(200);
  const cut = await latencies(r, 20, "cut");
  console.log(
    `publish -> dispatch with SSE cut: median ${median(cut)} ms, max ${Math.max(...cut)} ms ` +
      `(bound: poll interval ${r.config.pollIntervalMs} ms); ratio to SSE ${(median(cut) / Math.max(1, median(sse))).toFixed(1)}x`,
  );
  await s.stop();
  await r.broker.close();
  await r.llm.close();
}

/** 1000 requests, random SSE cuts, one restart of the service mid-burst: count what came back. */
async function soakBench(): Promise<void> {
  const N = 1000;
  const r = await rig(1000);
  let s = r.service();
  await s.start();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    await publish(r.broker, `soak-${i}`);
    if (Math.random() < 0.02)
      await fetch(`${r.broker.url}/_control/agentrux/cut-streams`, { method: "POST" });
    if (i === N / 2) {
      await s.stop(); // abandons turns in flight; the next start redoes them
      s = r.service();
      await s.start();
    }
  }
  const answered = () => {
    const counts = new Map<string, number>();
    for (const e of r.broker.agentrux.book.topics.get("res") ?? []) {
      const id = (e.payload as { request_id?: string }).request_id ?? "";
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  const end = Date.now() + 120_000;
  while (answered().size < N && Date.now() < end) await sleep(100);
  await sleep(2000); // anything answered twice would show up now
  const counts = answered();
  const lost = Array.from({ length: N }, (_, i) => `soak-${i}`).filter((id) => !counts.has(id)).length;
  const duplicated = [...counts.values()].filter((c) => c > 1).length;
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `${N} requests, random SSE cuts, one restart: lost ${lost}, duplicated ${duplicated}; ` +
      `${(N / secs).toFixed(0)} requests/s end to end`,
  );
  await s.stop();
  await r.broker.close();
  await r.llm.close();
}

export async function run(): Promise<void> {
  await latencyBench();
  await soakBench();
  await channelBench();
}
