import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type MockRegistry, startMockRegistry } from "../../../test/mocks/registry/server.ts";
import { AgentRegistryAccount, type ResolvedAccount } from "./account.ts";
import { agentRegistryConfig } from "./config-schema.ts";
import { RegistryClient } from "./registry-client.ts";
import { clampCapabilities, createAgentNetworkTool } from "./tools.ts";

// agent_network as agents use it: real accounts talking over the mock registry's HTTP relay.
// alpha asks; bravo answers every message and approves registered agents; charlie approves only
// by hand; delta is registered but runs no inbox loop, so what it is sent waits.

const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const tmp = mkdtempSync(path.join(os.tmpdir(), "ar-tools-"));
let registry: MockRegistry;
const accounts: AgentRegistryAccount[] = [];

function account(hostname: string, extra: Record<string, unknown> = {}): AgentRegistryAccount {
  const raw = { registryUrl: registry.url, hostname, transport: "relay", pollIntervalSeconds: 1, ...extra };
  const config = agentRegistryConfig.schema.parse(raw);
  const a = new AgentRegistryAccount({
    config: { ...config, installationId: `inst-${hostname}` } as ResolvedAccount,
    logger: quiet,
    home: path.join(tmp, hostname),
    stateDir: path.join(tmp, hostname),
    dispatch: async (m, reply) => reply?.(`re: ${m.message.text}`),
    notify: async () => {},
  });
  accounts.push(a);
  return a;
}

let alpha: AgentRegistryAccount;
let charlie: AgentRegistryAccount;
let delta: AgentRegistryAccount;

beforeAll(async () => {
  registry = await startMockRegistry();
  alpha = account("alpha");
  const bravo = account("bravo", {
    displayName: "Bravo",
    description: "translates",
    capabilities: ["translate"],
  });
  charlie = account("charlie", { autoApprove: "none" });
  delta = account("delta");
  for (const a of [alpha, bravo, charlie]) await a.start();
  await new RegistryClient({ baseUrl: registry.url }).register({
    hostname: "delta",
    installation_id: "inst-delta",
  });
  for (const a of [alpha, bravo, charlie])
    await vi.waitFor(() => expect(a.registration.state).toBe("registered"), { timeout: 10_000 });
});
afterAll(async () => {
  for (const a of accounts) await a.stop();
  await registry?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs one action as `who`, giving the text the agent reads and the details. */
async function act(who: AgentRegistryAccount | undefined, params: Record<string, unknown>) {
  const r = await createAgentNetworkTool(() => who).execute("call-1", params);
  return { text: r.content[0]?.text ?? "", details: r.details as Record<string, unknown> };
}
const say = async (who: AgentRegistryAccount | undefined, params: Record<string, unknown>) =>
  (await act(who, params)).text;

describe("agent_network: arguments", () => {
  it("names a bad action, a missing or oversized argument, and a channel that is not running", async () => {
    expect(await say(alpha, { action: "dance" })).toBe(
      'error AGENT_REGISTRY_ERR_BAD_REQUEST: action must be one of search, get_agent, contact, handshake, pending, approve, reject, untrust, inbox (got "dance")',
    );
    expect(await say(alpha, { action: "get_agent" })).toBe(
      "error AGENT_REGISTRY_ERR_BAD_REQUEST: hostname is required for action get_agent",
    );
    expect(await say(alpha, { action: "search", query: "q".repeat(201) })).toBe(
      "error AGENT_REGISTRY_ERR_BAD_REQUEST: query must be a string of at most 200 characters",
    );
    expect(await say(alpha, { action: "contact", hostname: 42, message: "hi" })).toBe(
      "error AGENT_REGISTRY_ERR_BAD_REQUEST: hostname must be a string of at most 253 characters",
    );
    expect(await say(undefined, { action: "search" })).toBe(
      "error AGENT_REGISTRY_ERR_NOT_RUNNING: the agent-registry channel is not running on this gateway; check agent-registry.status",
    );
  });

  it("cleans capabilities: trimmed, deduplicated, at most 64 characters each and 20 in all", () => {
    expect(clampCapabilities(" code, review ,code,,")).toEqual(["code", "review"]);
    expect(clampCapabilities(["a", 7, "x".repeat(65), " a "])).toEqual(["a"]);
    expect(clampCapabilities(Array.from({ length: 30 }, (_, i) => `c${i}`))).toHaveLength(20);
    expect(clampCapabilities({ not: "a list" })).toEqual([]);
  });
});

describe("agent_network: finding agents", () => {
  it("searches by capability and text, and says so when nothing matches", async () => {
    const found = await act(alpha, {
      action: "search",
      capabilities: ["translate", " translate "],
      limit: 5,
    });
    expect(found.text).toBe(
      "1 agent(s) match, showing 1:\n- bravo (Bravo): translates; capabilities: translate; transport: relay",
    );
    expect(found.details).toMatchObject({ total: 1, agents: [{ hostname: "bravo" }] });
    expect(await say(alpha, { action: "search", query: "no such skill anywhere" })).toBe(
      "no agent matches; try fewer capabilities or other words",
    );
  });

  it("gets one agent by hostname, and names one the registry does not know", async () => {
    expect(await say(alpha, { action: "get_agent", hostname: "charlie" })).toBe(
      "- charlie: no description; capabilities: none; transport: relay",
    );
    expect(await say(alpha, { action: "get_agent", hostname: "ghost" })).toBe(
      'error AGENT_REGISTRY_ERR_NOT_FOUND: no online agent named "ghost"; find one with action "search"',
    );
  });
});

describe("agent_network: talking", { timeout: 60_000 }, () => {
  it("contacts an agent (handshake first, approved since alpha is registered) and returns its answer", async () => {
    const r = await act(alpha, { action: "contact", hostname: "bravo", message: "hello" });
    expect(r.text).toBe("sent to bravo over relay. bravo answered:\nre: hello");
    expect(r.details).toMatchObject({
      transport: "relay",
      answer: "re: hello",
      messageId: expect.any(String),
    });
    expect(await say(alpha, { action: "contact", hostname: "bravo", message: "later", wait: false })).toBe(
      "sent to bravo over relay; its answer will arrive in this conversation's channel session",
    );
    expect(await say(alpha, { action: "contact", hostname: "ghost", message: "hi" })).toBe(
      'error AGENT_REGISTRY_ERR_NOT_FOUND: no online agent named "ghost" in the registry; find one with agent_network search',
    );
  });

  it("lets an agent list, approve, reject and revoke trust by hand", async () => {
    expect(
      await say(alpha, { action: "handshake", hostname: "charlie", introduction: "alpha, re the audit" }),
    ).toBe("trust handshake sent to charlie over relay; messages flow once it approves");
    expect(await say(alpha, { action: "handshake", hostname: "charlie" })).toBe(
      "error AGENT_REGISTRY_ERR_BAD_REQUEST: introduction is required for action handshake",
    );
    expect(await say(charlie, { action: "pending" })).toBe("- alpha (relay): alpha, re the audit");
    expect(await say(charlie, { action: "approve", hostname: "alpha" })).toBe("approved alpha over relay");
    expect(await say(charlie, { action: "approve", hostname: "alpha" })).toBe(
      'error AGENT_REGISTRY_ERR_NOT_FOUND: no pending handshake from alpha; list them with action "pending"',
    );
    expect(await say(charlie, { action: "untrust", hostname: "alpha" })).toBe(
      "alpha is no longer trusted over relay",
    );
    await say(alpha, { action: "handshake", hostname: "charlie", introduction: "again" });
    expect(await say(charlie, { action: "reject", hostname: "alpha", reason: "not now" })).toBe(
      "rejected alpha",
    );
    expect(await act(charlie, { action: "pending" })).toEqual({
      text: "no pending trust handshakes",
      details: { pending: [] },
    });
  });

  it("shows what waits in an inbox nobody reads yet", async () => {
    expect(await act(delta, { action: "inbox" })).toEqual({
      text: "the inboxes are empty (messages are handled as they arrive)",
      details: { count: 0, counters: delta.counters },
    });
    await say(alpha, { action: "handshake", hostname: "delta", introduction: "hi delta" });
    expect(await say(delta, { action: "approve", hostname: "alpha" })).toBe("approved alpha over relay");
    await say(alpha, { action: "contact", hostname: "delta", message: "ping", wait: false });
    expect(await act(delta, { action: "inbox" })).toMatchObject({
      text: "- relay from alpha: ping",
      details: { count: 1 },
    });
  });
});
