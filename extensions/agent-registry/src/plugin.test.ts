import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakePluginApi, hostConfigWith } from "../../../test/harness/fake-plugin-api.ts";
import { type MockRegistry, startMockRegistry } from "../../../test/mocks/registry/server.ts";
import { AgentRegistryAccount } from "./account.ts";
import { liveAccount, resolveAccount } from "./channel.ts";
import { registerAgentRegistry } from "./plugin.ts";
import { PLUGIN_ID } from "./status.ts";
import { TOOL_NAME } from "./tools.ts";

// registerAgentRegistry against a fake host api: what it registers, and what the status and
// refresh methods and the agent_network tool answer with and without a running account.

const REFRESH = `${PLUGIN_ID}.refresh`;

function register(pluginConfig?: Record<string, unknown>) {
  const host = fakePluginApi({ pluginConfig });
  registerAgentRegistry(host.api);
  return host;
}

describe("registerAgentRegistry without a running account", () => {
  it("without a registry URL: status says disabled and how to enable it; no refresh, no tool", async () => {
    const host = register({});
    expect(host.methods()).toEqual([`${PLUGIN_ID}.status`]);
    expect((await host.call(`${PLUGIN_ID}.status`)).payload).toMatchObject({
      state: "disabled",
      reason: "no registry configured (set AGENT_REGISTRY_URL)",
    });
    expect(host.tools()).toEqual([]);
  });

  it("with an invalid config: status names the bad key; no tool", async () => {
    const host = register({ registryUrl: "ftp://registry", hostname: "me" });
    const status = (await host.call(`${PLUGIN_ID}.status`)).payload as { state: string; problems: string[] };
    expect(status.state).toBe("invalid");
    expect(status.problems.join("\n")).toMatch(/registryUrl/);
    expect(host.tools()).toEqual([]);
  });

  it("when configured: agent_network is registered with its label, and both answer that nothing runs", async () => {
    const host = register({ registryUrl: "http://127.0.0.1:9", hostname: "me" });
    expect(host.methods()).toEqual([`${PLUGIN_ID}.status`, REFRESH]);
    const tools = host.tools();
    expect(tools.map(({ tool, names }) => ({ name: tool.name, label: tool.label, names }))).toEqual([
      { name: TOOL_NAME, label: "Agent Network", names: [TOOL_NAME] },
    ]);
    expect(await host.call(REFRESH)).toEqual({
      ok: false,
      error: { code: "UNAVAILABLE", message: "the agent-registry channel is not running" },
    });
    const r = await tools[0]?.tool.execute("c1", { action: "search", query: "review" });
    expect(r?.content).toEqual([
      {
        type: "text",
        text: expect.stringMatching(/^error AGENT_REGISTRY_ERR_NOT_RUNNING: .*check agent-registry.status/),
      },
    ]);
  });
});

describe("agent-registry.refresh with a running account", () => {
  let registry: MockRegistry;
  let account: AgentRegistryAccount;
  const dir = mkdtempSync(path.join(os.tmpdir(), "agent-registry-plugin-"));
  const pluginConfig = { hostname: "me", transport: "relay", discoverable: false, pollIntervalSeconds: 60 };

  beforeAll(async () => {
    registry = await startMockRegistry();
    const config = resolveAccount(
      hostConfigWith(PLUGIN_ID, { ...pluginConfig, registryUrl: registry.url }),
    ).config;
    if (!config) throw new Error("test config does not resolve");
    account = new AgentRegistryAccount({
      config,
      logger: createLogger({ extension: "test", sink: { info() {}, warn() {}, error() {} } }),
      home: dir,
      stateDir: dir,
      dispatch: async () => {},
      notify: async () => {},
    });
    await account.start();
    liveAccount.set(account);
  });
  afterAll(async () => {
    liveAccount.set(undefined);
    await account?.stop();
    await registry?.close();
  });

  it("refuses a discoverable that is not a boolean, naming it", async () => {
    const host = register({ ...pluginConfig, registryUrl: registry.url });
    expect(await host.call(REFRESH, { discoverable: "yes" })).toEqual({
      ok: false,
      error: { code: "INVALID_REQUEST", message: 'discoverable must be true or false (got "yes")' },
    });
  });

  it("registers the agent on demand and takes it out of the registry again, answering the new status", async () => {
    const host = register({ ...pluginConfig, registryUrl: registry.url });
    expect(registry.state.byHostname("me")).toBeUndefined();

    const on = await host.call(REFRESH, { discoverable: true });
    expect(on).toMatchObject({ ok: true, payload: { state: "running", discoverable: true } });
    expect(on.payload).toMatchObject({ registration: { state: "registered" } });
    expect(registry.state.byHostname("me")).toMatchObject({ installation_id: "me" });

    const off = await host.call(REFRESH, { discoverable: false });
    expect(off).toMatchObject({ ok: true, payload: { state: "idle", discoverable: false } });
    expect(registry.state.byHostname("me")).toBeUndefined();
  });

  it("answers a registry that is down with a degraded status that says why", async () => {
    const host = register({ ...pluginConfig, registryUrl: registry.url });
    await registry.close();
    const r = await host.call(REFRESH, { discoverable: true });
    // The call itself succeeds: the answer is the status, which says the registration fails and why.
    expect(r).toMatchObject({
      ok: true,
      payload: { state: "degraded", registration: { state: "failing" } },
    });
    expect((r.payload as { reason: string }).reason).toMatch(
      /^registration failed: .*the registry at http:\/\/127\.0\.0\.1:\d+ is unreachable/,
    );
  });
});
