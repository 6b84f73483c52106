import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  awaitChannelUp,
  awaitResponse,
  brokerCalls,
  httpControl,
  type ResponsePayload,
} from "../harness/agentrux.ts";
import { useGateways } from "../harness/vitest-hooks.ts";
import { budget, waitFor } from "../harness/wait.ts";
import { LIVE_TOPICS, type MockBroker, startBrokerWithLiveScript } from "../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";

// A new gateway against the mock broker in live mode (plugin 1.1.0's API): activation with an
// act_ code, requests on top_ topics answered, a file uploaded through the tools and committed.
// The safety poll is 10 minutes: every answer here is woken by an SSE hint (after the first
// drain at start), so a pass cannot come from polling.
const ID = "agentrux-openclaw-plugin";
const { command: CMD, result: RES } = LIVE_TOPICS;
let llm: MockLlm;
let broker: MockBroker;
let code: string;
const home = mkdtempSync(path.join(os.tmpdir(), "agentrux-live-home-"));
const TURN_LIMIT_MS = budget(30_000);

beforeAll(async () => {
  llm = await startMockLlm({ name: "llm-agentrux-live" });
  let script: { id: string };
  ({ broker, script } = await startBrokerWithLiveScript());
  code = broker.agentrux.book.issueCode(script.id, 1, `act_${randomBytes(30).toString("base64url")}`);
  mkdirSync(path.join(home, ".agentrux"), { mode: 0o700 });
  writeFileSync(path.join(home, ".agentrux/BOOTSTRAP.md"), `${code}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await broker?.close();
  await llm?.close();
});

const gateways = useGateways(() => [
  {
    name: "live",
    llmBaseUrl: llm.url,
    env: { HOME: home },
    extensions: {
      [ID]: {
        commandTopicId: CMD,
        resultTopicId: RES,
        agentId: "main",
        baseUrl: broker.url,
        pollIntervalMs: 600_000,
        subagentTimeoutMs: TURN_LIMIT_MS,
      },
    },
    extra: { tools: { toolSearch: false } },
  },
]);

interface Status {
  state: string;
  waterline?: number;
  activation?: string;
  sse?: string;
  generation?: string;
}
beforeAll(() => awaitChannelUp(() => gateways.byName("live").call<Status>(`${ID}.status`)));

const control = () => httpControl(broker.url);
interface Stored {
  type: string;
  payload: ResponsePayload & { attachments?: Array<Record<string, unknown>> };
  metadata?: Record<string, unknown>;
  payload_object_id?: string;
}
const stored = async (topic: string) =>
  ((await control()(`/topics/${encodeURIComponent(topic)}/events`)) as { items: Stored[] }).items;
const request = (payload: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  control()(`/topics/${CMD}/publish`, { type: "openclaw.request", payload, ...extra });

describe("AgenTrux in a real gateway, live API", () => {
  it("activates with an act_ code at /auth/redeem-activation-code and takes tokens from /oauth/token", async () => {
    const g = gateways.byName("live");
    const s = await g.call<Status>(`${ID}.status`);
    expect(s.activation).toBe("activated");
    const creds = JSON.parse(readFileSync(path.join(home, ".agentrux/credentials.json"), "utf8"));
    expect(creds).toMatchObject({ client_id: expect.stringMatching(/^crd_/), base_url: broker.url });
    const calls = await brokerCalls(control());
    expect(calls["POST /auth/redeem-activation-code"]).toBe(1);
    expect(calls["POST /auth/activate"]).toBeUndefined();
    expect(calls["POST /oauth/token"]).toBeGreaterThanOrEqual(1);
    expect(calls["POST /auth/token"]).toBeUndefined();
    for (const f of [g.configPath, g.logFile, g.outFile]) expect(readFileSync(f, "utf8")).not.toContain(code);
    // The waterline is a live cursor, not a sequence number.
    const w = JSON.parse(readFileSync(path.join(home, ".agentrux/waterline.json"), "utf8"));
    expect(typeof w[CMD]).toBe("string");
  });

  it("answers an openclaw.request woken by the SSE hint, in the live shape with metadata", async () => {
    await request(
      { request_id: "live-1", conversation_key: "c1", message: "hello over the live API" },
      { metadata: { correlation_id: "corr-live-1" } },
    );
    const p = await awaitResponse(control(), RES, "live-1");
    expect(p, p.message).toMatchObject({ request_id: "live-1", status: "completed" });
    expect(p.message).toContain("hello over the live API");
    const answer = (await stored(RES)).find((e) => e.payload?.request_id === "live-1");
    expect(answer?.metadata).toEqual({ correlation_id: "corr-live-1" });
    expect((await gateways.byName("live").call<Status>(`${ID}.status`)).sse).toBe("open");
  });

  it("answers the 1.1.0 plugin's agentrux_send_message: message.request {text}, matched by metadata.correlation_id", async () => {
    await control()(`/topics/${CMD}/publish`, {
      type: "message.request",
      payload: { text: "a question from the official plugin" },
      metadata: { correlation_id: "msg-official-1", reply_topic: RES },
    });
    const reply = await waitFor(
      "the reply matched by metadata.correlation_id",
      async () => (await stored(RES)).find((e) => e.metadata?.correlation_id === "msg-official-1"),
      (e) => e !== undefined,
      { ms: 60_000 },
    );
    expect(reply?.payload.status).toBe("completed");
    expect(reply?.payload.message).toContain("a question from the official plugin");
  });

  it("reconnects the hint stream with a fresh token after the broker expired every token (no poll to fall back on)", async () => {
    const before = (await brokerCalls(control()))["POST /oauth/token"] ?? 0;
    await control()("/expire-tokens", {});
    await control()("/cut-streams", {});
    await request({ request_id: "live-exp-1", conversation_key: "exp", message: "after the tokens expired" });
    const p = await awaitResponse(control(), RES, "live-exp-1");
    expect(p.status, p.message).toBe("completed");
    // The stream's 401 dropped the dead token: a new one was asked for, not the old one resent.
    expect((await brokerCalls(control()))["POST /oauth/token"]).toBeGreaterThan(before);
    expect((await gateways.byName("live").call<Status>(`${ID}.status`)).sse).toBe("open");
  });

  it("uploads a file through agentrux_upload: registered, PUT, committed, attached with its presigned_get_url", async () => {
    await request({
      request_id: "live-up-1",
      conversation_key: "up",
      message: 'MOCK_TOOL_CALL agentrux_upload {"content":"the live report","filename":"report.txt"}',
    });
    const up = (await awaitResponse(control(), RES, "live-up-1")) as ResponsePayload & {
      attachments?: Array<{ name: string; payload_object_id: string; presigned_get_url: string }>;
    };
    expect(up.status, up.message).toBe("completed");
    expect(up.attachments).toEqual([
      expect.objectContaining({
        name: "report.txt",
        size: 15,
        payload_object_id: expect.stringMatching(/^pob_/),
      }),
    ]);
    const pob = up.attachments?.[0]?.payload_object_id as string;
    expect(broker.agentrux.book.payloads.get(pob)?.committed).toBe(true);
    const commit = (await stored(RES)).find((e) => e.payload_object_id === pob);
    expect(commit?.type).toBe("openclaw.attachment");
    expect(await (await fetch(up.attachments?.[0]?.presigned_get_url ?? "")).text()).toBe("the live report");
  });

  it("resumes from its saved event cursor after a restart, and after ttl_expired reads again from the oldest event kept", async () => {
    const g = gateways.byName("live");
    await request({ request_id: "live-r1", conversation_key: "r", message: "before the restart" });
    expect((await awaitResponse(control(), RES, "live-r1")).status).toBe("completed");
    await g.stop();
    // While it is down: one request, then everything up to and including the saved cursor's
    // event ages out, then one more. Both are still retrievable and must be answered, once.
    await request({ request_id: "live-r2", conversation_key: "r", message: "while down, kept" });
    const list = broker.agentrux.book.topics.get(CMD) ?? [];
    const kept = list.findIndex((e) => (e.payload as { request_id?: string }).request_id === "live-r2");
    await control()(`/topics/${CMD}/evict`, { count: kept });
    await request({ request_id: "live-r3", conversation_key: "r", message: "while down, newest" });
    await g.start();
    for (const id of ["live-r2", "live-r3"])
      expect((await awaitResponse(control(), RES, id, 90_000)).status).toBe("completed");
    const s = await g.call<Status & { counters?: { cursorExpired: number } }>(`${ID}.status`);
    expect(s.counters?.cursorExpired).toBe(1);
    expect(readFileSync(g.logFile, "utf8")).toMatch(/aged out of the topic's retention/);
    const ids = (await stored(RES)).map((e) => e.payload?.request_id);
    for (const id of ["live-r1", "live-r2", "live-r3"]) expect(ids.filter((x) => x === id)).toHaveLength(1);
  });

  it("passes inbound attachments over 50 KB and binary ones as URLs, looked up by payload_object_id", async () => {
    const put = (name: string, contentType: string, bytes: Buffer) => {
      const o = broker.agentrux.book.newPayload(CMD, {
        content_type: contentType,
        filename: name,
        size: bytes.length,
      });
      o.bytes = bytes;
      o.committed = true;
      return { name, payload_object_id: o.object_id, content_type: contentType };
    };
    const big = put("big.txt", "text/plain", Buffer.alloc(60 * 1024, "a"));
    const bin = put("pic.png", "image/png", randomBytes(2048));
    await request({
      request_id: "live-att-1",
      conversation_key: "att",
      message: "look at these",
      attachments: [big, bin],
    });
    expect((await awaitResponse(control(), RES, "live-att-1")).status).toBe("completed");
    const seen = llm.requests.find((r) => r.lastUserText.includes("look at these"))?.lastUserText ?? "";
    expect(seen).toMatch(/Attachment big\.txt \(text\/plain\): http:\/\/127\.0\.0\.1:\d+\/_objects\/pob_/);
    expect(seen).toMatch(/Attachment pic\.png \(image\/png\): http:\/\/127\.0\.0\.1:\d+\/_objects\/pob_/);
    expect(seen).not.toContain("a".repeat(1000));
  });
});
