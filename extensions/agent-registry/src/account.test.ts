import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { describe, expect, it } from "vitest";
import { AgentRegistryAccount, type ResolvedAccount } from "./account.ts";
import { AnswerWaiters } from "./answer-waiters.ts";
import { agentRegistryConfig } from "./config-schema.ts";
import type { Peer } from "./peers.ts";
import type { Inbound, PendingHandshake, Transport } from "./transports.ts";
import { decodeMessage, encodeMessage } from "./wire.ts";

const quiet = createLogger({ extension: "test", sink: { info() {}, warn() {}, error() {}, debug() {} } });
const peer: Peer = { hostname: "node-x", nodeId: 0x12345, known: true };

/** An inbox that, like Pilot's, can only be cleared as a whole. */
class FakeTransport implements Transport {
  readonly kind = "pilot" as const;
  inbox: Array<{ key: string; body: string }> = [];
  pendingList: PendingHandshake[] = [];
  sent: string[] = [];
  approved: string[] = [];
  clears = 0;
  ready = () => true;
  canReach = () => true;
  async receive(): Promise<Inbound[]> {
    return this.inbox.map((m) => ({
      transport: "pilot",
      key: m.key,
      message: decodeMessage(m.body, m.key),
      from: peer,
    }));
  }
  async settle(done: (key: string) => boolean): Promise<void> {
    if (this.inbox.length && this.inbox.every((m) => done(m.key))) {
      this.inbox = [];
      this.clears++;
    }
  }
  async send(_p: Peer, body: string) {
    this.sent.push(body);
  }
  async handshake() {}
  async trusts() {
    return true;
  }
  async pending() {
    return this.pendingList;
  }
  async approve(p: Peer) {
    this.approved.push(p.hostname);
  }
  async reject() {}
  async untrust() {}
}

function account(
  t: FakeTransport,
  stateDir: string,
  dispatch: (m: Inbound, reply?: (s: string) => Promise<void>) => Promise<void>,
  waiters?: AnswerWaiters,
) {
  const c = agentRegistryConfig.schema.parse({
    registryUrl: "http://127.0.0.1:9",
    hostname: "me",
    discoverable: false,
  });
  return new AgentRegistryAccount({
    config: {
      ...c,
      registryUrl: "http://127.0.0.1:9",
      hostname: "me",
      installationId: "me",
    } as ResolvedAccount,
    logger: quiet,
    home: stateDir,
    stateDir,
    dispatch,
    notify: async () => {},
    transports: [t],
    ...(waiters ? { waiters } : {}),
  });
}

describe("the inbox loop", () => {
  it("handles each message once, answers it, and clears the inbox only when all is handled", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-acct-"));
    const t = new FakeTransport();
    const seen: string[] = [];
    let fail = true;
    const a = account(t, dir, async (m, reply) => {
      if (m.message.text === "flaky" && fail) {
        fail = false;
        throw new Error("turn failed");
      }
      seen.push(m.message.text);
      await reply?.(`re: ${m.message.text}`);
    });
    t.inbox.push({ key: "k1", body: encodeMessage("one", undefined, "m1") }, { key: "k2", body: "flaky" });
    await a.poll();
    expect(seen).toEqual(["one"]); // the failed turn stays for the next pass
    expect(t.clears).toBe(0);
    expect(a.counters.failed).toBe(1);
    await a.poll();
    expect(seen).toEqual(["one", "flaky"]);
    expect(t.clears).toBe(1);
    expect(t.sent.map((b) => decodeMessage(b, "").replyTo)).toEqual(["m1", "k2"]);

    // The same message again (an inbox that was not cleared before a crash): not handled twice,
    // also by a new account reading the persisted list.
    t.inbox.push({ key: "k1", body: encodeMessage("one", undefined, "m1") });
    const b = account(t, dir, async (m) => {
      seen.push(`again ${m.message.text}`);
    });
    await b.start();
    await b.poll();
    await b.stop();
    expect(seen).toEqual(["one", "flaky"]);
    expect(t.inbox).toEqual([]);
  });

  it("never answers an answer, and approves registered agents' handshakes once", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-acct-"));
    const t = new FakeTransport();
    const replies: Array<unknown> = [];
    const a = account(t, dir, async (_m, reply) => {
      replies.push(reply);
    });
    t.inbox.push({ key: "k1", body: encodeMessage("the answer", "someone-elses-id", "m9") });
    t.pendingList = [{ transport: "pilot", key: "hs1", from: peer, justification: "hi" }];
    await a.poll();
    await a.poll();
    expect(replies).toEqual([undefined]);
    expect(t.approved).toEqual(["node-x"]);
    expect(t.sent).toEqual([]);
  });

  it("records a message as handled on disk the moment its answer has left", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-acct-"));
    const file = path.join(dir, "agent-registry", "seen.json");
    const t = new FakeTransport();
    let onDiskAfterAnswer: string[] = [];
    const a = account(t, dir, async (_m, reply) => {
      await reply?.("the answer");
      onDiskAfterAnswer = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : [];
    });
    t.inbox.push({ key: "k1", body: encodeMessage("question", undefined, "q1") });
    await a.poll();
    expect(onDiskAfterAnswer).toEqual(expect.arrayContaining(["msg:q1", "k1"]));
  });

  it("a crash between the turn and the answer answers once; a crash just after it does not answer again", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-acct-"));
    const t = new FakeTransport();
    t.inbox.push({ key: "k1", body: encodeMessage("question", undefined, "q1") });
    const never = new Promise<void>(() => {});
    // Crash before the answer: the turn never ends, nothing left, nothing recorded.
    void account(t, dir, async () => never).poll();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.sent).toEqual([]);
    // Restarted: answers it; then crashes just after the answer left (the turn never ends).
    void account(t, dir, async (_m, reply) => {
      await reply?.("the answer");
      await never;
    }).poll();
    await expect.poll(() => t.sent.length).toBe(1);
    const file = path.join(dir, "agent-registry", "seen.json");
    await expect.poll(() => existsSync(file) && readFileSync(file, "utf8").includes("msg:q1")).toBe(true);
    // Restarted again: the message was recorded when its answer left, so no second turn or answer.
    const turns: string[] = [];
    const c = account(t, dir, async (m) => {
      turns.push(m.message.text);
    });
    await c.start();
    await c.poll();
    await c.stop();
    expect(turns).toEqual([]);
    expect(t.sent.map((b) => decodeMessage(b, "").replyTo)).toEqual(["q1"]);
    expect(t.inbox).toEqual([]);
  });

  it("takes one answer per question and drops a repeated answer (an answerer that crashed after sending)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-acct-"));
    const t = new FakeTransport();
    const turns: string[] = [];
    const a = account(t, dir, async (m) => {
      turns.push(m.message.text);
    });
    t.inbox.push(
      { key: "k1", body: encodeMessage("answer", "q1", "a1") },
      { key: "k2", body: encodeMessage("answer again", "q1", "a2") },
      { key: "k3", body: encodeMessage("answer to another", "q2", "a3") },
    );
    await a.poll();
    expect(turns).toEqual(["answer", "answer to another"]);
    expect(a.counters.deduplicated).toBe(1);
    // Also across a restart.
    t.inbox.push({ key: "k4", body: encodeMessage("answer a third time", "q1", "a4") });
    const b = account(t, dir, async (m) => {
      turns.push(m.message.text);
    });
    await b.start();
    await b.poll();
    await b.stop();
    expect(turns).toEqual(["answer", "answer to another"]);
  });

  it("keeps a contact's wait across an account restart, and the next account delivers its answer", async () => {
    // The host's health monitor restarts accounts; the old stop answered every waiter "nothing".
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-account-"));
    const waiters = new AnswerWaiters(60_000);
    const t = new FakeTransport();
    const turns: string[] = [];
    const first = account(t, dir, async (m) => void turns.push(m.message.text), waiters);
    await first.start();
    const wait = waiters.wait("q-restart", 60_000);
    let settled: string | undefined | null = null;
    void wait.promise.then((v) => {
      settled = v;
    });
    await first.stop();
    await new Promise((r) => setImmediate(r));
    expect(settled).toBeNull();
    const second = account(t, dir, async (m) => void turns.push(m.message.text), waiters);
    await second.start();
    t.inbox.push({ key: "k-ans", body: encodeMessage("the late answer", "q-restart", "a-late") });
    await second.poll();
    expect(await wait.promise).toBe("the late answer");
    expect(turns).toEqual([]); // an awaited answer is not a new message
    await second.stop();
  });
});
