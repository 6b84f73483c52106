import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { accountContext, hostConfigWith, sendText } from "../../../test/harness/fake-plugin-api.ts";
import { type MockRegistry, startMockRegistry } from "../../../test/mocks/registry/server.ts";
import {
  ACCOUNT_ID,
  CHANNEL_ID,
  type ChannelAccount,
  createChannelPlugin,
  resolveAccount,
} from "./channel.ts";
import { decodeMessage } from "./wire.ts";

// The Agent Registry channel object as the gateway uses it: its static facts, the account it
// resolves from the host config, and an account run against the mock registry (relay transport).

const hostConfig = (config: Record<string, unknown>) => hostConfigWith(CHANNEL_ID, config);
const plugin = createChannelPlugin();
const context = (account: ChannelAccount, signal: AbortSignal) => accountContext(ACCOUNT_ID, account, signal);
const send = (to: string, text: string) => sendText(plugin, to, text);

describe("Agent Registry channel: what the gateway reads of it", () => {
  it("is a direct-chat, text-only channel with one account that streams answer blocks", () => {
    expect(plugin.id).toBe(CHANNEL_ID);
    expect(plugin.meta).toMatchObject({ label: "Agent Registry", docsPath: `/channels/${CHANNEL_ID}` });
    expect(plugin.capabilities).toMatchObject({ chatTypes: ["direct"], media: false, blockStreaming: true });
    expect(plugin.config.defaultAccountId?.({})).toBe(ACCOUNT_ID);
    expect(plugin.messaging?.normalizeTarget?.(`${CHANNEL_ID}:peer-b`)).toBe("peer-b");
  });

  it("resolves its account: disabled without a registry, unconfigured without a hostname", () => {
    const none = plugin.config.resolveAccount({});
    expect(plugin.config.describeAccount?.(none, {})).toEqual({
      accountId: ACCOUNT_ID,
      enabled: false,
      configured: false,
    });
    const noHost = resolveAccount(hostConfig({ registryUrl: "http://127.0.0.1:9" }));
    expect(noHost).toMatchObject({ enabled: true, configured: false });
    expect(noHost.resolved.ok ? "" : noHost.resolved.status.reason).toBe(
      `${CHANNEL_ID} is enabled but missing hostname`,
    );
  });

  it("reads the registry key from the env when the config names a variable, and defaults the installation id", () => {
    const a = resolveAccount(
      hostConfig({ registryUrl: "http://127.0.0.1:9", hostname: "me", registryApiKey: "${REG_KEY}" }),
      { REG_KEY: "k-from-env" },
    );
    expect(a.config).toMatchObject({ hostname: "me", installationId: "me", apiKey: "k-from-env" });
  });

  it("refuses to send while no account runs, and to start an account that is not configured", async () => {
    await expect(send("peer-b", "hi")).rejects.toThrow("the agent-registry channel is not running");
    const { ctx } = context(
      resolveAccount(hostConfig({ registryUrl: "http://127.0.0.1:9" })),
      new AbortController().signal,
    );
    await expect(plugin.gateway?.startAccount?.(ctx)).rejects.toThrow(
      `${CHANNEL_ID}: ${CHANNEL_ID} is enabled but missing hostname`,
    );
  });
});

describe("Agent Registry channel: a running account", () => {
  let registry: MockRegistry;
  const dir = mkdtempSync(path.join(os.tmpdir(), "agent-registry-channel-"));
  beforeAll(async () => {
    registry = await startMockRegistry({ apiKey: "k-registry" });
    vi.stubEnv("HOME", dir);
    vi.stubEnv("OPENCLAW_STATE_DIR", path.join(dir, "state"));
    vi.stubEnv("TEST_REGISTRY_KEY", "k-registry");
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await registry?.close();
  });
  let abort: AbortController | undefined;
  afterEach(() => abort?.abort());

  it("registers, sends to a trusting peer over the relay, and deregisters when the gateway aborts it", async () => {
    registry.state.register({ hostname: "peer-b", installation_id: "peer-b" });
    registry.state.requestTrust("peer-b", "me", "hello");
    registry.state.approve("peer-b", "me");
    abort = new AbortController();
    const account = resolveAccount(
      hostConfig({
        registryUrl: registry.url,
        registryApiKey: "${TEST_REGISTRY_KEY}",
        hostname: "me",
        transport: "relay",
        pollIntervalSeconds: 60,
      }),
    );
    const { ctx, status } = context(account, abort.signal);
    const run = plugin.gateway?.startAccount?.(ctx);
    await vi.waitFor(() =>
      expect(status()).toMatchObject({ accountId: ACCOUNT_ID, running: true, connected: true }),
    );
    await vi.waitFor(() => expect(registry.state.byHostname("me")).toMatchObject({ installation_id: "me" }));

    const sent = await send(`${CHANNEL_ID}:peer-b`, "can you review PR 12?");
    expect(sent.channel).toBe(CHANNEL_ID);
    const inbox = registry.state.inbox("peer-b");
    expect(inbox.map((m) => decodeMessage(m.body, m.message_id).text)).toEqual(["can you review PR 12?"]);
    expect(inbox[0]).toMatchObject({ from_hostname: "me" });
    await expect(send("nobody", "hi")).rejects.toThrow('no online agent named "nobody" in the registry');

    abort.abort();
    await run;
    expect(status()).toMatchObject({ running: false, connected: false });
    expect(registry.state.byHostname("me")).toBeUndefined();
    await expect(send("peer-b", "late")).rejects.toThrow("the agent-registry channel is not running");
  });
});
