import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type FakePluginApi, fakePluginApi } from "../../../test/harness/fake-plugin-api.ts";
import { DEFAULT_LEASE_TOKEN } from "../../../test/mocks/broker/lease-api.ts";
import { type MockBroker, startMockBroker } from "../../../test/mocks/broker/server.ts";
import { registerAuthManager } from "./plugin.ts";
import { PLUGIN_ID } from "./status.ts";

// registerAuthManager against a fake host api: what it registers, what its status method says,
// and the lease service and usage hook it wires to a broker.

const STATUS = `${PLUGIN_ID}.status`;
const GRANT = { plugins: { entries: { [PLUGIN_ID]: { hooks: { allowConversationAccess: true } } } } };

beforeAll(() => {
  // The plugin falls back to AUTH_MANAGER_* variables; the tests say everything in config.
  for (const k of Object.keys(process.env)) if (k.startsWith("AUTH_MANAGER_")) vi.stubEnv(k, undefined);
});
afterAll(() => vi.unstubAllEnvs());

function register(pluginConfig: Record<string, unknown>, config = {}) {
  const host = fakePluginApi({ pluginConfig, config });
  registerAuthManager(host.api);
  return host;
}
const status = async (host: FakePluginApi) => (await host.call(STATUS)).payload as Record<string, unknown>;

describe("registerAuthManager", () => {
  it("without a broker URL: status says disabled and how to enable it; no lease service, no usage hook", async () => {
    const host = register({});
    expect(host.methods()).toEqual([STATUS]);
    expect(await status(host)).toMatchObject({
      state: "disabled",
      reason: "no Auth Manager configured (set AUTH_MANAGER_BASE_URL)",
    });
    expect(host.services.map((s) => s.id)).toEqual([`${PLUGIN_ID}-status`]);
    expect(host.hooks("llm_output")).toEqual([]);
  });

  it("refuses plain http to a remote broker, saying how to allow it", async () => {
    const host = register({ baseUrl: "http://broker.example", internalApiToken: "t" });
    const s = await status(host);
    expect(s).toMatchObject({ state: "unconfigured", configured: false });
    expect(String(s.reason)).toContain("an https baseUrl (http only on localhost, or with allowHttp");
    expect(host.services.map((s) => s.id)).toEqual([`${PLUGIN_ID}-status`]);
  });

  it("warns in its status when the host withholds token usage, and not once it is granted", async () => {
    const config = { baseUrl: "https://broker.example", internalApiToken: "t" };
    const withheld = await status(register(config));
    expect(withheld).toMatchObject({
      state: "idle",
      reason: "configured; the lease service has not started yet",
    });
    expect(withheld.telemetryWarning).toBe(
      `usage telemetry needs plugins.entries.${PLUGIN_ID}.hooks.allowConversationAccess: true`,
    );
    expect(await status(register(config, GRANT))).not.toHaveProperty("telemetryWarning");
  });
});

describe("registerAuthManager with a broker", () => {
  let broker: MockBroker;
  let host: FakePluginApi | undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), "auth-manager-plugin-"));
  const stateDir = path.join(dir, "state");

  beforeAll(async () => {
    broker = await startMockBroker({ lease: { credentials: 1 } });
  });
  afterEach(async () => {
    await host?.stopServices(stateDir);
    host = undefined;
  });
  afterAll(async () => {
    await broker?.close();
  });

  // Loading the host's auth-store module takes 2 s on an idle machine, 15 s on a loaded one.
  it("starts the lease service, stores the leased auth, counts the usage the host reports, and stops", {
    timeout: 90_000,
  }, async () => {
    host = register(
      {
        baseUrl: broker.url,
        internalApiToken: DEFAULT_LEASE_TOKEN,
        machineId: "node-x",
        codexAuthPath: path.join(dir, "codex", "auth.json"),
      },
      GRANT,
    );
    expect(host.services.map((s) => s.id)).toEqual([`${PLUGIN_ID}-status`, `${PLUGIN_ID}-lease`]);
    await host.startServices(stateDir);
    // The lease is acquired in the background; the first use of the host's auth store is slow.
    await vi.waitFor(
      async () => expect(await status(host as FakePluginApi)).toMatchObject({ state: "running" }),
      {
        timeout: 80_000,
        interval: 200,
      },
    );
    expect(await status(host)).toMatchObject({
      leaseState: "active",
      // Stored in the host's auth store by the plugin, under the profile the agent uses.
      authProfile: "openai:auth-manager-lease",
      pending: { requests: 0, tokensIn: 0, tokensOut: 0 },
    });

    const [onOutput] = host.hooks("llm_output");
    onOutput?.({ usage: { input: 1200, output: 80 } }, {});
    onOutput?.({ usage: undefined }, {});
    expect((await status(host)).pending).toEqual({ requests: 1, tokensIn: 1200, tokensOut: 80 });

    await host.stopServices(stateDir);
    expect(await status(host)).toMatchObject({ state: "idle", serviceState: "stopped" });
    expect(host.logs).toContain(`info [${PLUGIN_ID}] ${PLUGIN_ID} stopped`);
  });

  it("starts nothing when stopped while its start is still loading the lease service", async () => {
    host = register(
      {
        baseUrl: broker.url,
        internalApiToken: DEFAULT_LEASE_TOKEN,
        machineId: "node-y",
        codexAuthPath: path.join(dir, "codex-y", "auth.json"),
      },
      GRANT,
    );
    // The start awaits the lease service's module; a gateway stopping meanwhile wins.
    const starting = host.startService(`${PLUGIN_ID}-lease`, stateDir);
    await host.stopServices(stateDir);
    await starting;
    await new Promise((r) => setTimeout(r, 200));
    // Idle: no lease service of this registration runs (an earlier test's stopped one may be
    // the one the status reads), and none logged its start.
    const s = await status(host);
    expect(s.state).toBe("idle");
    expect(["stopped", undefined]).toContain(s.serviceState);
    expect(host.logs).toEqual([`info [${PLUGIN_ID}] ${PLUGIN_ID} stopped`]);
  });
});
