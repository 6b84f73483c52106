import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conversationPeer } from "../../extensions/agentrux/src/session.ts";
import {
  awaitChannelUp,
  awaitResponse,
  httpControl,
  publishRequest,
  type ResponsePayload,
  responses,
} from "../harness/agentrux.ts";
import { useGateways } from "../harness/vitest-hooks.ts";
import { budget } from "../harness/wait.ts";
import { type MockBroker, startBrokerWithScript } from "../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";

// A real gateway taking commands from the mock AgenTrux broker: activation from BOOTSTRAP.md,
// request in on the command topic, the agent's answer out on the result topic.
const ID = "agentrux-openclaw-plugin";
let llm: MockLlm;
let broker: MockBroker;
let code: string;
const home = mkdtempSync(path.join(os.tmpdir(), "agentrux-home-"));
const refusedHome = mkdtempSync(path.join(os.tmpdir(), "agentrux-refused-"));
const UNKNOWN_CODE = "ac_never-issued-0123456789abcdef";
/** subagentTimeoutMs: a first turn after a restart on a busy machine can take 15 s and more. */
const TURN_LIMIT_MS = budget(30_000);

beforeAll(async () => {
  llm = await startMockLlm({ name: "llm-agentrux" });
  let script: { id: string };
  ({ broker, script } = await startBrokerWithScript());
  code = broker.agentrux.book.issueCode(script.id, 1);
  mkdirSync(path.join(home, ".agentrux"), { mode: 0o700 });
  writeFileSync(path.join(home, ".agentrux/BOOTSTRAP.md"), `${code}\n`, { mode: 0o600 });
  mkdirSync(path.join(refusedHome, ".agentrux"), { mode: 0o700 });
  writeFileSync(path.join(refusedHome, ".agentrux/BOOTSTRAP.md"), `${UNKNOWN_CODE}\n`, { mode: 0o600 });
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
        maxConcurrency: 2,
        subagentTimeoutMs: TURN_LIMIT_MS,
      },
    },
    // The mock LLM calls a tool only when the request offers it by name: no Tool Search catalog.
    extra: { tools: { toolSearch: false } },
  },
  {
    // Given a code the broker never issued: refused (404), set aside, and the gateway runs on.
    name: "refused",
    llmBaseUrl: llm.url,
    env: { HOME: refusedHome },
    extensions: {
      [ID]: { commandTopicId: "cmd", resultTopicId: "res", agentId: "main", baseUrl: broker.url },
    },
  },
]);

beforeAll(() => awaitChannelUp(() => gateways.byName("commands").call<Status>(`${ID}.status`)));

interface Status {
  state: string;
  waterline?: number;
  activation?: string;
  sse?: string;
  counters?: { received: number; dispatched: number; deduplicated: number; failed: number };
}

const control = () => httpControl(broker.url);
const publish = (requestId: string, message: string, conversationKey?: string) =>
  publishRequest(control(), "cmd", requestId, message, conversationKey);
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
    expect(p, p.message).toMatchObject({ request_id: "req-1", status: "completed" });
    expect(p.message).toContain("hello from an outside client");
    expect(llm.requests.at(-1)?.lastUserText).toContain("BEGIN AGENTRUX MESSAGE");
  });

  it("runs the request as a channel turn, in a session of its own per conversation", async () => {
    const g = gateways.byName("commands");
    const sessions = await g.call<{ sessions: Array<{ key: string }> }>("sessions.list", {});
    const keys = sessions.sessions.map((x) => x.key);
    // The client's conversation key is hashed with the command topic: never raw in a session key.
    expect(keys).toContain(
      `agent:main:agentrux-openclaw-plugin:default:direct:${conversationPeer("cmd", "c1")}`,
    );
    expect(keys.join(" ")).not.toContain("openai-user");
  });

  it("is a channel of the gateway: listed in channels.status, and `send` publishes to a topic", async () => {
    const g = gateways.byName("commands");
    const channels = await g.call<{ channelAccounts: Record<string, unknown[]> }>("channels.status", {});
    expect(channels.channelAccounts[ID]).toEqual([
      expect.objectContaining({ accountId: "default", configured: true, running: true, connected: true }),
    ]);
    await g.call("send", {
      channel: ID,
      to: "res",
      message: "a note from the operator",
      idempotencyKey: "send-1",
    });
    const { items } = (await control()("/topics/res/events")) as {
      items: Array<{ type: string; payload: { message?: string } }>;
    };
    expect(items.filter((e) => e.type === "openclaw.message").map((e) => e.payload)).toEqual([
      { message: "a note from the operator" },
    ]);
  });

  it("gives two requests of one conversation, published together, an answer each", async () => {
    llm.setBehavior({ chunkDelayMs: 30 });
    try {
      await publish("same-1", "first of two in one conversation", "shared");
      await publish("same-2", "second of two in one conversation", "shared");
      const [a, b] = [await answerTo("same-1", 90_000), await answerTo("same-2", 90_000)];
      expect(a, a.message).toMatchObject({ status: "completed" });
      expect(a.message).toContain("first of two");
      expect(b, b.message).toMatchObject({ status: "completed" });
      expect(b.message).toContain("second of two");
    } finally {
      llm.setBehavior({});
    }
  });

  it("answers failed when the agent's model fails", async () => {
    llm.setBehavior({ failNext: { status: 400, message: "model refused the request", count: 5 } });
    try {
      await publish("boom-1", "this turn will fail", "boom");
      const p = await answerTo("boom-1", 90_000);
      expect(p, p.message).toMatchObject({ request_id: "boom-1", status: "failed" });
      // The host's own account of the failure, not an empty "completed".
      expect(p.message).toMatch(/model refused the request|HTTP 400|failed/i);
    } finally {
      llm.setBehavior({});
    }
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

  it("handles two requests at a time (maxConcurrency 2), each answered once", async () => {
    // Each turn's model call takes `latency`: long enough, on a busy machine too, that two
    // turns started together overlap and a third can only start once one of them is done.
    const latency = Math.min(budget(3000), TURN_LIMIT_MS / 3);
    llm.setBehavior({ latencyMs: latency });
    try {
      const from = llm.requests.length;
      const ids = ["par-1", "par-2", "par-3", "par-4"];
      // One conversation each: the gateway runs one turn at a time per session.
      for (const id of ids) await publish(id, `parallel ${id}`, `conv-${id}`);
      for (const id of ids) expect((await answerTo(id, 90_000)).status).toBe("completed");
      const starts = llm.requests
        .slice(from)
        .filter((r) => r.lastUserText.includes("parallel par-"))
        .map((r) => r.at)
        .sort((a, b) => a - b);
      expect(starts).toHaveLength(4);
      const [a = 0, b = 0, c = 0] = starts;
      // The first two turns overlapped; the third waited for one of them to finish.
      expect(b - a).toBeLessThan(latency);
      expect(c - a).toBeGreaterThanOrEqual(latency);
      const all = (await responses(control(), "res")).map((p) => p.request_id);
      for (const id of ids) expect(all.filter((x) => x === id)).toHaveLength(1);
    } finally {
      llm.setBehavior({});
    }
  });

  it("keeps running with the channel off and says why when the broker refuses the code", async () => {
    const g = gateways.byName("refused");
    const s = await g.call<Status & { reason?: string }>(`${ID}.status`);
    expect(s.state).toBe("degraded");
    expect(s.reason).toMatch(
      /^AgenTrux refused the activation code \(invalid_code\); it was set aside as BOOTSTRAP\.md\.failed-\d{8}-\d{6}; put a new activation code/,
    );
    const files = readdirSync(path.join(refusedHome, ".agentrux"));
    expect(files.some((f) => /^BOOTSTRAP\.md\.failed-\d{8}-\d{6}\.json$/.test(f))).toBe(true);
    expect(files).not.toContain("credentials.json");
    expect(files).not.toContain("BOOTSTRAP.md");
    for (const f of [g.configPath, g.logFile, g.outFile])
      expect(readFileSync(f, "utf8")).not.toContain(UNKNOWN_CODE);
    // The gateway itself is fine: an agent turn still runs.
    const res = await g.post("/v1/chat/completions", {
      model: "openclaw/main",
      messages: [{ role: "user", content: "still here" }],
    });
    expect(res.status).toBe(200);
  });

  it("inlines a small text attachment, attaches what agentrux_upload stored in the turn, and holds exec to execPolicy", async () => {
    const obj = broker.agentrux.book.newPayload("cmd", {
      content_type: "text/plain",
      filename: "notes.txt",
      size: 13,
    });
    obj.bytes = Buffer.from("INLINE-MARKER");
    await control()("/topics/cmd/publish", {
      type: "openclaw.request",
      payload: {
        request_id: "att-1",
        conversation_key: "att",
        message: "read the notes",
        attachments: [{ name: "notes.txt", object_id: obj.object_id, content_type: "text/plain" }],
      },
    });
    expect((await answerTo("att-1")).status).toBe("completed");
    const seen = llm.requests.find((r) => r.lastUserText.includes("read the notes"));
    expect(seen?.lastUserText).toContain("Attachment notes.txt (text/plain):\nINLINE-MARKER");

    await publish(
      "up-1",
      'MOCK_TOOL_CALL agentrux_upload {"content":"the report","filename":"report.txt"}',
      "up",
    );
    const up = (await answerTo("up-1")) as ResponsePayload & {
      attachments?: Array<{ name: string; size: number; download_url: string }>;
    };
    expect(up.status, up.message).toBe("completed");
    expect(up.attachments).toEqual([expect.objectContaining({ name: "report.txt", size: 10 })]);
    expect(await (await fetch(up.attachments?.[0]?.download_url ?? "")).text()).toBe("the report");

    await publish("ex-1", 'MOCK_TOOL_CALL exec {"command":"touch /tmp/agentrux-exec-probe"}', "ex");
    const ex = await answerTo("ex-1");
    expect(ex.message).toContain("AgenTrux execPolicy: exec is off for requests from AgenTrux");
  });

  it("answers failed, naming subagentTimeoutMs, when the agent takes too long", async () => {
    llm.setBehavior({ latencyMs: TURN_LIMIT_MS + 10_000 });
    try {
      await publish("slow-1", "take your time");
      const p = await answerTo("slow-1", 90_000);
      expect(p).toMatchObject({ request_id: "slow-1", status: "failed" });
      expect(p.message).toBe(`the agent did not answer within ${TURN_LIMIT_MS} ms (subagentTimeoutMs)`);
    } finally {
      llm.setBehavior({});
    }
  });
});
