import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitResponse, httpControl, publishRequest, responses } from "../harness/agentrux.ts";
import { useGateways } from "../harness/vitest-hooks.ts";
import { type MockBroker, startBrokerWithScript } from "../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";

// A real gateway taking commands from the mock AgenTrux broker: activation from BOOTSTRAP.md,
// request in on the command topic, the agent's answer out on the result topic.
const ID = "agentrux-openclaw-plugin";
let llm: MockLlm;
let broker: MockBroker;
let code: string;
const home = mkdtempSync(path.join(os.tmpdir(), "agentrux-home-"));

beforeAll(async () => {
  llm = await startMockLlm({ name: "llm-agentrux" });
  let script: { id: string };
  ({ broker, script } = await startBrokerWithScript());
  code = broker.agentrux.book.issueCode(script.id, 1);
  mkdirSync(path.join(home, ".agentrux"), { mode: 0o700 });
  writeFileSync(path.join(home, ".agentrux/BOOTSTRAP.md"), `${code}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await broker?.close();
  await llm?.close();
});

const gateways = useGateways(() => [
  {
    name: "commands",
    llmBaseUrl: llm.url,
    env: { HOME: home },
    extensions: {
      [ID]: {
        commandTopicId: "cmd",
        resultTopicId: "res",
        agentId: "main",
        baseUrl: broker.url,
        pollIntervalMs: 2000,
      },
    },
  },
]);

interface Status {
  state: string;
  activation?: string;
  sse?: string;
  counters?: { received: number; dispatched: number; deduplicated: number; failed: number };
}

const control = () => httpControl(broker.url);
const publish = (requestId: string, message: string) => publishRequest(control(), "cmd", requestId, message);
const answerTo = (requestId: string, ms?: number) => awaitResponse(control(), "res", requestId, ms);

describe("AgenTrux in a real gateway", () => {
  it("activates from BOOTSTRAP.md: credentials 0600, the code nowhere in config or logs", async () => {
    const g = gateways.byName("commands");
    const s = await g.call<Status>(`${ID}.status`);
    expect(s.activation).toBe("activated");
    expect(statSync(path.join(home, ".agentrux/credentials.json")).mode & 0o777).toBe(0o600);
    for (const f of [g.configPath, g.logFile, g.outFile]) expect(readFileSync(f, "utf8")).not.toContain(code);
  });

  it("answers a published request on the result topic with the same request id", async () => {
    await publish("req-1", "hello from an outside client");
    const p = await answerTo("req-1");
    expect(p).toMatchObject({ request_id: "req-1", status: "completed" });
    expect(p.message).toContain("hello from an outside client");
    expect(llm.requests.at(-1)?.lastUserText).toContain("BEGIN AGENTRUX MESSAGE");
  });

  it("still answers with the SSE streams cut, and once only across a gateway restart", async () => {
    const g = gateways.byName("commands");
    await control()("/cut-streams", {});
    await publish("req-2", "while the hint stream is down");
    expect((await answerTo("req-2")).status).toBe("completed");
    await g.stop();
    await publish("req-3", "while the gateway is down");
    await publish("req-3", "the client retried the same request");
    await g.start();
    expect((await answerTo("req-3", 90_000)).status).toBe("completed");
    await new Promise((r) => setTimeout(r, 3000)); // a poll or two later
    const ids = (await responses(control(), "res")).map((p) => p.request_id);
    expect(ids.filter((id) => id === "req-3")).toHaveLength(1);
    expect(ids.filter((id) => id === "req-1")).toHaveLength(1);
    const s = await g.call<Status>(`${ID}.status`);
    expect(s.counters?.deduplicated).toBeGreaterThanOrEqual(1);
  });
});
