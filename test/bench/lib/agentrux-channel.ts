import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { awaitChannelUp, awaitResponse, httpControl, publishRequest } from "../../harness/agentrux.ts";
import { startGateways, stopGateways } from "../../harness/gateway.ts";
import { startBrokerWithScript } from "../../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../../mocks/llm/server.ts";

// AgenTrux through a real gateway: from publish to the model call, the request crosses the
// broker, the ingress and the host's channel pipeline. Baseline, measured in the same run and the
// same gateway: the gateway's own turn start, from a /v1/chat/completions request to the model
// call. The ratio is what reaching the agent through AgenTrux costs over reaching it directly.

const ID = "agentrux-openclaw-plugin";
const SAMPLES = 15;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** When the model first saw a request carrying `marker`. */
async function modelCallAt(llm: MockLlm, marker: string, ms = 60_000): Promise<number> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const at = llm.requests.find((q) => q.lastUserText.includes(marker))?.at;
    if (at !== undefined) return at;
    await sleep(2);
  }
  throw new Error(`the model never saw ${marker} within ${ms} ms`);
}

export async function channelBench(): Promise<void> {
  const llm = await startMockLlm({ name: "bench-channel-llm" });
  const { broker, script } = await startBrokerWithScript();
  const home = mkdtempSync(path.join(os.tmpdir(), "bench-agentrux-gw-"));
  mkdirSync(path.join(home, ".agentrux"), { mode: 0o700 });
  writeFileSync(
    path.join(home, ".agentrux/BOOTSTRAP.md"),
    `${broker.agentrux.book.issueCode(script.id, 1)}\n`,
    {
      mode: 0o600,
    },
  );
  const [g] = await startGateways([
    {
      name: "bench-agentrux",
      llmBaseUrl: llm.url,
      env: { HOME: home },
      extensions: {
        [ID]: { commandTopicId: "cmd", resultTopicId: "res", agentId: "main", baseUrl: broker.url },
      },
    },
  ]);
  if (!g) throw new Error("the gateway did not start");
  const control = httpControl(broker.url);
  try {
    await awaitChannelUp(() => g.call(`${ID}.status`));
    while ((await g.call<{ sse?: string }>(`${ID}.status`)).sse !== "open") await sleep(50);
    const viaAgentrux: number[] = [];
    const direct: number[] = [];
    // Alternating, one at a time, each in a new session, so both paths see the same noise.
    for (let i = -2; i < SAMPLES; i++) {
      const a = `bench-ax-${i}`;
      const t0 = now();
      await publishRequest(control, "cmd", a, a, a);
      const ax = (await modelCallAt(llm, a)) - t0;
      await awaitResponse(control, "res", a);
      const d = `bench-direct-${i}`;
      const t1 = now();
      const res = g.post("/v1/chat/completions", {
        model: "openclaw/main",
        messages: [{ role: "user", content: d }],
        user: d,
      });
      const dx = (await modelCallAt(llm, d)) - t1;
      await (await res).text();
      if (i < 0) continue; // warm-up rounds
      viaAgentrux.push(ax);
      direct.push(dx);
    }
    console.log(
      `through a real gateway, publish -> model call: median ${median(viaAgentrux).toFixed(1)} ms; ` +
        `baseline /v1/chat/completions -> model call: median ${median(direct).toFixed(1)} ms; ` +
        `ratio ${(median(viaAgentrux) / median(direct)).toFixed(2)}x (${SAMPLES} each, alternating)`,
    );
  } finally {
    await stopGateways([g]);
    await broker.close();
    await llm.close();
  }
}
