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
  /** When each request's turn was handed to the agent (by request text: its id here). */
  turnAt: Map<string, number>;
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
  const turnAt = new Map<string, number>();
  const turn = (t: TurnRequest) => {
    turnAt.set(t.rawBody, now());
    return llmTurn(llm, t);
  };
  return { broker, llm, home, config, turnAt, service: () => new AgentruxService(config, quiet, turn, home) };
}

/** ms on the clock the mock LLM stamps its requests with (sub-millisecond, unlike Date.now). */
const now = () => performance.timeOrigin + performance.now();

const publish = (b: MockBroker, id: string, topic = "cmd") =>
  fetch(`${b.url}/_control/agentrux/topics/${topic}/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "openclaw.request",
      payload: { request_id: id, conversation_key: id, message: id },
    }),
  });

/**
 * One request at a time, each published once the one before is fully handled (answered, saved):
 * ms from publish to the turn handed to the agent (the dispatch), and to the model's call.
 */
async function latencies(r: Rig, s: AgentruxService, n: number, prefix: string) {
  const dispatch: number[] = [];
  const model: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const t0 = now();
    await publish(r.broker, id);
    const end = Date.now() + 10_000;
    let at: number | undefined;
    while (at === undefined && Date.now() < end) {
      at = r.llm.requests.find((q) => q.lastUserText.includes(id))?.at;
      if (at === undefined) await sleep(1);
    }
    const turn = r.turnAt.get(id);
    if (at === undefined || turn === undefined) throw new Error(`${id} was not dispatched within 10 s`);
    dispatch.push(turn - t0);
    model.push(at - t0);
    await s.ingress?.idle();
  }
  return { dispatch, model };
}

/**
 * The broker's own cost: publish over HTTP, then read the event back over HTTP. On a topic the
 * service does not read (its dispatches would load the baseline), emptied after each round so
 * that every read returns the one event, as the service's read of a new request does.
 */
async function baseline(r: Rig, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await publish(r.broker, `base-${i}`, "base");
    await fetch(`${r.broker.url}/_control/agentrux/topics/base/events`).then((x) => x.json());
    out.push(performance.now() - t0);
    r.broker.agentrux.book.evict("base", 1);
  }
  return out;
}

async function latencyBench(): Promise<void> {
  const r = await rig(1000);
  const s = r.service();
  await s.start();
  while (s.sse !== "open") await sleep(10);
  await latencies(r, s, 20, "warm");
  const base = await baseline(r, 200);
  const sse = await latencies(r, s, 200, "sse");
  const b = median(base);
  const [d, m] = [median(sse.dispatch), median(sse.model)];
  console.log(
    `publish -> dispatch with SSE: median ${d.toFixed(2)} ms, p95 ${p95(sse.dispatch).toFixed(2)} ms; ` +
      `baseline publish+read ${b.toFixed(2)} ms; ratio ${(d / b).toFixed(2)}x (target 2x); ` +
      `to the model's call (the bench's own fetch added) ${m.toFixed(2)} ms, ${(m / b).toFixed(2)}x`,
  );
  // SSE refused from now on: only the safety poller (every 1000 ms here) brings requests in.
  await fetch(`${r.broker.url}/_control/agentrux/fail-next`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ status: 503, count: 100_000, path: "/topics/cmd/events/stream" }),
  });
  await fetch(`${r.broker.url}/_control/agentrux/cut-streams`, { method: "POST" });
  await sleep(200);
  const cut = (await latencies(r, s, 20, "cut")).dispatch;
  console.log(
    `publish -> dispatch with SSE cut: median ${median(cut).toFixed(0)} ms, max ${Math.max(...cut).toFixed(0)} ms ` +
      `(bound: poll interval ${r.config.pollIntervalMs} ms)`,
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
