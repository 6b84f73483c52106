import { promises as fs, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { accountContext, hostConfigWith, sendText } from "../../../test/harness/fake-plugin-api.ts";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import { type ChannelAccount, createChannelPlugin, MESSAGE_TYPE, resolveAccount } from "./channel.ts";
import { ACCOUNT_ID, CHANNEL_ID } from "./session.ts";
import { PLUGIN_ID } from "./status.ts";

// The AgenTrux channel object as the gateway uses it: its static facts, the account it resolves
// from the host config, outbound sends, and an account run against the mock broker.

const CONFIG = { commandTopicId: "cmd", resultTopicId: "res", agentId: "main" };
const hostConfig = (config: Record<string, unknown>) => hostConfigWith(PLUGIN_ID, config);
const plugin = createChannelPlugin();
const context = (account: ChannelAccount, signal: AbortSignal) => accountContext(ACCOUNT_ID, account, signal);
const send = (to: string, text: string) => sendText(plugin, to, text);

describe("AgenTrux channel: what the gateway reads of it", () => {
  it("is a direct-chat, text-only channel with one account that shows only whole answers", () => {
    expect(plugin.id).toBe(CHANNEL_ID);
    expect(plugin.meta).toMatchObject({
      id: CHANNEL_ID,
      label: "AgenTrux",
      docsPath: `/channels/${CHANNEL_ID}`,
    });
    expect(plugin.capabilities).toMatchObject({ chatTypes: ["direct"], media: false, blockStreaming: false });
    expect(plugin.config.listAccountIds({})).toEqual([ACCOUNT_ID]);
    expect(plugin.outbound).toMatchObject({ deliveryMode: "gateway", textChunkLimit: 100_000 });
  });

  it("takes a topic id as target, with or without the channel prefix", () => {
    expect(plugin.messaging?.normalizeTarget?.(`${CHANNEL_ID}:topic-1`)).toBe("topic-1");
    expect(plugin.messaging?.normalizeTarget?.(" topic-1 ")).toBe("topic-1");
    expect(plugin.messaging?.normalizeTarget?.("")).toBeUndefined();
  });

  it("resolves its account from the plugin's config: disabled, unconfigured, or ready", () => {
    const describeAccount = (cfg: OpenClawConfig) => {
      const a = plugin.config.resolveAccount(cfg);
      return {
        enabled: plugin.config.isEnabled?.(a, cfg),
        configured: plugin.config.isConfigured?.(a, cfg),
        snapshot: plugin.config.describeAccount?.(a, cfg),
      };
    };
    expect(describeAccount({})).toEqual({
      enabled: false,
      configured: false,
      snapshot: { accountId: ACCOUNT_ID, enabled: false, configured: false },
    });
    expect(describeAccount(hostConfig({ commandTopicId: "cmd" }))).toMatchObject({
      enabled: true,
      configured: false,
    });
    expect(describeAccount(hostConfig(CONFIG))).toMatchObject({ enabled: true, configured: true });
    expect(resolveAccount(hostConfig(CONFIG)).config).toMatchObject({
      ...CONFIG,
      baseUrl: "https://api.agentrux.com",
    });
  });

  it("refuses to send while no account runs, and to start an account that is not configured", async () => {
    await expect(send("topic-1", "hi")).rejects.toThrow(
      "the AgenTrux channel is not connected (no credentials or not started)",
    );
    const { ctx } = context(
      resolveAccount(hostConfig({ commandTopicId: "cmd" })),
      new AbortController().signal,
    );
    await expect(plugin.gateway?.startAccount?.(ctx)).rejects.toThrow(
      `${PLUGIN_ID}: ${PLUGIN_ID} is enabled but missing resultTopicId, agentId`,
    );
  });
});

describe("AgenTrux channel: a running account", () => {
  let broker: MockBroker;
  let script: { id: string; secret: string };
  const home = mkdtempSync(path.join(os.tmpdir(), "agentrux-channel-"));

  beforeAll(async () => {
    ({ broker, script } = await startBrokerWithScript());
    // The account reads its credentials from ~/.agentrux, as a gateway activated earlier would.
    vi.stubEnv("HOME", home);
    await fs.mkdir(path.join(home, ".agentrux"), { recursive: true });
    await fs.writeFile(
      path.join(home, ".agentrux", "credentials.json"),
      JSON.stringify({ script_id: script.id, client_secret: script.secret }),
      { mode: 0o600 },
    );
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await broker?.close();
  });
  let abort: AbortController | undefined;
  afterEach(() => abort?.abort());

  it("reports connected, publishes sends to the target topic, and stops when the gateway aborts it", async () => {
    abort = new AbortController();
    const account = resolveAccount(hostConfig({ ...CONFIG, baseUrl: broker.url, pollIntervalMs: 60_000 }));
    const { ctx, status } = context(account, abort.signal);
    const run = plugin.gateway?.startAccount?.(ctx);
    await vi.waitFor(() =>
      expect(status()).toMatchObject({ accountId: ACCOUNT_ID, running: true, connected: true }),
    );

    const sent = await send(`${CHANNEL_ID}:res`, "build finished");
    expect(sent.channel).toBe(CHANNEL_ID);
    const events = broker.agentrux.book.topics.get("res") ?? [];
    expect(events).toContainEqual(
      expect.objectContaining({
        event_id: sent.messageId,
        type: MESSAGE_TYPE,
        payload: { message: "build finished" },
      }),
    );
    await expect(send(" ", "x")).rejects.toThrow('an AgenTrux target is a topic id (got " ")');

    abort.abort();
    await run;
    expect(status()).toMatchObject({ running: false, connected: false });
    await expect(send("res", "late")).rejects.toThrow(/not connected/);
  });
});
