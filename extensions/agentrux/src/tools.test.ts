import { promises as fs, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startToolService } from "../../../test/harness/agentrux-service.ts";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import type { AgentruxService, Config } from "./service.ts";
import { conversationPeer } from "./session.ts";
import { type AgentruxTool, createTools } from "./tools.ts";

// The agent tools against the mock broker, with a real AgentruxService behind them (its ingress
// idles on an empty command topic; no agent turn is needed here).

let broker: MockBroker;
let script: { id: string };
let service: AgentruxService;
const home = mkdtempSync(path.join(os.tmpdir(), "agentrux-tools-"));
const workspace = mkdtempSync(path.join(os.tmpdir(), "agentrux-ws-"));

beforeAll(async () => {
  ({ broker, script } = await startBrokerWithScript());
  broker.agentrux.book.scripts
    .get(script.id)
    ?.grants.push(
      { grant_id: "gr_out", topic_id: "peer.cmd", action: "write" },
      { grant_id: "gr_in", topic_id: "peer.res", action: "read" },
      { grant_id: "gr_nw", topic_id: "notes", action: "write" },
      { grant_id: "gr_nr", topic_id: "notes", action: "read" },
    );
  service = await startToolService({ command: "cmd", result: "res", baseUrl: broker.url }, home);
});
afterAll(async () => {
  await service?.stop();
  await broker?.close();
});

const tools = (sessionKey?: string) => {
  const config = { resultTopicId: "res" } as Config;
  return Object.fromEntries(
    createTools(() => service, config, { sessionKey, workspaceDir: workspace }).map((t) => [t.name, t]),
  ) as Record<string, AgentruxTool>;
};
const run = async (name: string, args: Record<string, unknown>, sessionKey?: string) => {
  const r = await tools(sessionKey)[name]?.execute("call-1", args);
  return { text: r?.content[0]?.text ?? "", details: r?.details as Record<string, unknown> };
};

describe("AgenTrux tools", () => {
  it("says what to do before activation, then activates with a code that appears nowhere", async () => {
    expect((await run("agentrux_read", { topic_id: "cmd" })).text).toMatch(
      /^error AGENTRUX_ERR_NOT_ACTIVATED: .*call agentrux_activate/,
    );
    expect((await run("agentrux_activate", { activation_code: "nope" })).text).toMatch(
      /^error AGENTRUX_ERR_BAD_REQUEST: activation_code must look like ac_/,
    );
    const code = broker.agentrux.book.issueCode(script.id, 1);
    const r = await run("agentrux_activate", { activation_code: code });
    expect(r.text).toBe(`activated: script ${script.id}`);
    expect(JSON.stringify(r)).not.toContain(code);
    expect((await fs.stat(path.join(home, ".agentrux/credentials.json"))).mode & 0o777).toBe(0o600);
    expect((await run("agentrux_activate", { activation_code: code })).text).toMatch(/^already activated/);
  });

  it("publishes and reads back, with limits clamped and bad arguments named", async () => {
    const p = await run("agentrux_publish", { topic_id: "notes", type: "note", payload: { n: 1 } });
    expect(p.text).toMatch(/^published event /);
    const r = await run("agentrux_read", { topic_id: "notes", limit: 500 });
    expect(r.text).toContain('note {"n":1}');
    expect((await run("agentrux_publish", { topic_id: "notes", type: "note", payload: [1] })).text).toBe(
      "error AGENTRUX_ERR_BAD_REQUEST: payload must be a JSON object",
    );
    expect((await run("agentrux_read", { topic_id: "notes", limit: "x" })).text).toMatch(
      /limit must be an integer from 1 to 100 \(got "x"\)/,
    );
    expect((await run("agentrux_read", { topic_id: "secret" })).text).toMatch(
      /^error AGENTRUX_ERR_FORBIDDEN: /,
    );
  });

  it("sends a message and waits for the reply with its correlation id, or times out clearly", async () => {
    // A peer that answers on peer.res whatever arrives on peer.cmd.
    const answer = setInterval(() => {
      const inbox = broker.agentrux.book.topics.get("peer.cmd") ?? [];
      const done = new Set((broker.agentrux.book.topics.get("peer.res") ?? []).map((e) => e.correlation_id));
      for (const e of inbox)
        if (e.correlation_id && !done.has(e.correlation_id))
          broker.agentrux.book.publish("peer.res", "peer", {
            type: "openclaw.response",
            correlation_id: e.correlation_id,
            payload: { status: "completed", message: `echo: ${(e.payload as { message: string }).message}` },
          });
    }, 50);
    try {
      const r = await run("agentrux_send_message", {
        topic_id: "peer.cmd",
        reply_topic: "peer.res",
        message: "ping",
        timeout_ms: 10_000,
      });
      expect(r.text).toBe("echo: ping");
      expect(r.details.status).toBe("completed");
    } finally {
      clearInterval(answer);
    }
    const t = await run("agentrux_send_message", {
      topic_id: "peer.cmd",
      reply_topic: "peer.res",
      message: "nobody listens",
      timeout_ms: 1000,
    });
    expect(t.text).toMatch(/^error AGENTRUX_ERR_TIMEOUT: no reply on peer.res within 1000 ms/);
  });

  it("redeems an invite once", async () => {
    const res = await fetch(`${broker.url}/_control/agentrux/invites`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ topic_id: "shared.feed", action: "read" }),
    });
    const { invite_code } = (await res.json()) as { invite_code: string };
    expect((await run("agentrux_redeem_grant", { invite_code })).text).toBe("granted read on shared.feed");
    expect((await run("agentrux_redeem_grant", { invite_code })).text).toMatch(
      /^error AGENTRUX_ERR_NOT_FOUND: .*404/,
    );
  });

  it("uploads workspace files only, and attaches uploads of an AgenTrux turn to its answer", async () => {
    await fs.writeFile(path.join(workspace, "report.md"), "# report\n");
    const peer = conversationPeer("cmd", "Conv-7");
    const key = `agent:main:agentrux-openclaw-plugin:default:direct:${peer}`;
    const r = await run("agentrux_upload", { path: "report.md", content_type: "text/markdown" }, key);
    expect(r.text).toMatch(/^uploaded report.md \(9 bytes\) as \S+; attached to the answer$/);
    const got = await fetch(r.details.download_url as string);
    expect(await got.text()).toBe("# report\n");
    expect(service.outbox.take(peer)).toEqual([
      expect.objectContaining({ name: "report.md", content_type: "text/markdown", size: 9 }),
    ]);
    expect((await run("agentrux_upload", { path: "../../etc/passwd" })).text).toMatch(
      /^error AGENTRUX_ERR_BAD_REQUEST: path \.\.\/\.\.\/etc\/passwd is outside the workspace/,
    );
  });
});
