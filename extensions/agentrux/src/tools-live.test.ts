import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startToolService } from "../../../test/harness/agentrux-service.ts";
import { type MockBroker, startMockBroker } from "../../../test/mocks/broker/server.ts";
import type { AgentruxService, Config } from "./service.ts";
import { type AgentruxTool, createTools } from "./tools.ts";

// The agent tools on the live API (plugin 1.1.0): activated with an act_ code, reading by event
// cursor, messages matched by metadata.correlation_id, uploads committed.

const T = {
  cmd: "top_5d0c1a8e-0000-4000-8000-000000000001",
  res: "top_5d0c1a8e-0000-4000-8000-000000000002",
  notes: "top_5d0c1a8e-0000-4000-8000-000000000003",
  peerCmd: "top_5d0c1a8e-0000-4000-8000-000000000004",
  peerRes: "top_5d0c1a8e-0000-4000-8000-000000000005",
  writeOnly: "top_5d0c1a8e-0000-4000-8000-000000000006",
};
let broker: MockBroker;
let service: AgentruxService;
let code: string;
const home = mkdtempSync(path.join(os.tmpdir(), "agentrux-tools-live-"));

beforeAll(async () => {
  broker = await startMockBroker();
  const s = broker.agentrux.book.createScript([
    { topic_id: T.cmd, action: "read" },
    { topic_id: T.res, action: "write" },
    { topic_id: T.notes, action: "write" },
    { topic_id: T.notes, action: "read" },
    { topic_id: T.peerCmd, action: "write" },
    { topic_id: T.peerRes, action: "read" },
    { topic_id: T.writeOnly, action: "write" },
  ]);
  code = broker.agentrux.book.issueCode(s.id, 1, `act_${"k".repeat(30)}`);
  service = await startToolService({ command: T.cmd, result: T.res, baseUrl: broker.url }, home);
});
afterAll(async () => {
  await service?.stop();
  await broker?.close();
});

const run = async (name: string, args: Record<string, unknown>) => {
  const tools = Object.fromEntries(
    createTools(() => service, { resultTopicId: T.res } as Config, {}).map((t) => [t.name, t]),
  ) as Record<string, AgentruxTool>;
  const r = await tools[name]?.execute("call-1", args);
  return { text: r?.content[0]?.text ?? "", details: r?.details as Record<string, unknown> };
};

describe("AgenTrux tools, live API", () => {
  it("activates with an act_ code and then speaks the live API", async () => {
    expect((await run("agentrux_activate", { activation_code: code })).text).toMatch(/^activated/);
    expect(service.generation).toBe("live");
    expect(broker.agentrux.calls.get("POST /auth/redeem-activation-code")).toBe(1);
  });

  it("reads after an event cursor and refuses a sequence number", async () => {
    await run("agentrux_publish", { topic_id: T.notes, type: "note", payload: { n: 1 } });
    await run("agentrux_publish", { topic_id: T.notes, type: "note", payload: { n: 2 } });
    const all = await run("agentrux_read", { topic_id: T.notes });
    expect(all.details.count).toBe(2);
    const first = await run("agentrux_read", { topic_id: T.notes, limit: 1 });
    expect(first.text).toContain('note {"n":1}');
    const next = await run("agentrux_read", { topic_id: T.notes, after: first.details.next });
    expect(next.text).toContain('note {"n":2}');
    expect(next.text).not.toContain('{"n":1}');
    expect((await run("agentrux_read", { topic_id: T.notes, after_sequence_no: 1 })).text).toMatch(
      /^error AGENTRUX_ERR_BAD_REQUEST: this broker speaks the live API/,
    );
  });

  it("sends a message and matches the reply by metadata.correlation_id", async () => {
    const answer = setInterval(() => {
      const done = new Set(
        (broker.agentrux.book.topics.get(T.peerRes) ?? []).map((e) => e.metadata?.correlation_id),
      );
      for (const e of broker.agentrux.book.topics.get(T.peerCmd) ?? []) {
        const corr = e.metadata?.correlation_id;
        if (typeof corr === "string" && !done.has(corr))
          broker.agentrux.book.publish(T.peerRes, "peer", {
            type: "openclaw.response",
            metadata: { correlation_id: corr },
            payload: { status: "completed", message: `echo: ${(e.payload as { message: string }).message}` },
          });
      }
    }, 50);
    try {
      const r = await run("agentrux_send_message", {
        topic_id: T.peerCmd,
        reply_topic: T.peerRes,
        message: "ping",
        timeout_ms: 10_000,
      });
      expect(r.text).toBe("echo: ping");
      const sent = broker.agentrux.book.topics.get(T.peerCmd)?.at(-1);
      expect(sent?.metadata).toMatchObject({
        reply_topic: T.peerRes,
        correlation_id: r.details.correlation_id,
      });
    } finally {
      clearInterval(answer);
    }
  });

  it("uploads and commits; without read on the topic the object goes without a URL", async () => {
    const up = await run("agentrux_upload", { content: "notes", filename: "n.txt", topic_id: T.notes });
    expect(up.details).toMatchObject({
      object_id: expect.stringMatching(/^pob_/),
      download_url: expect.any(String),
    });
    const blind = await run("agentrux_upload", { content: "x", filename: "x.txt", topic_id: T.writeOnly });
    expect(blind.details.object_id).toMatch(/^pob_/);
    expect(blind.details.download_url).toBeUndefined();
    expect(broker.agentrux.book.payloads.get(blind.details.object_id as string)?.committed).toBe(true);
  });

  it("says invites are redeemed in the console on the live API", async () => {
    expect((await run("agentrux_redeem_grant", { invite_code: "inv_abc" })).text).toMatch(
      /^error AGENTRUX_ERR_UNSUPPORTED: the live AgenTrux API redeems invite codes only in the console/,
    );
  });
});
