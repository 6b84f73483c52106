import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MockRegistry, startMockRegistry } from "../../../test/mocks/registry/server.ts";
import { AgentRegistryAccount, type ResolvedAccount } from "./account.ts";
import type { AgentRegistryConfig } from "./config-schema.ts";
import { agentRegistryStatus, resolveAgentRegistry } from "./status.ts";

/**
 * A Pilot installed at /opt/pilot/bin is found before any test folder, so "not installed" cannot
 * be shown on such a machine: skipped there, saying so, except in CI, where it must run.
 */
function pilotInstalledHere(): boolean {
  if (!existsSync("/opt/pilot/bin") || process.env.CI === "true") return false;
  process.stdout.write("skipped a 'Pilot not installed' test: /opt/pilot/bin exists on this machine\n");
  return true;
}

// `agent-registry.status` from the plugin config and from real accounts against the mock registry
// (which also serves the Pilot rendezvous the stand-in daemon registers with).

const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const KEY = "registry-key-0123456789";
const tmp = mkdtempSync(path.join(os.tmpdir(), "ar-status-"));
const savedPath = process.env.PATH;
let registry: MockRegistry;
const accounts: AgentRegistryAccount[] = [];

beforeAll(async () => {
  // The Pilot stand-in's wrappers run `node`: this one (Node 24) first on PATH.
  process.env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${savedPath ?? ""}`;
  registry = await startMockRegistry({ apiKey: KEY });
});
afterEach(async () => {
  for (const a of accounts.splice(0)) await a.stop();
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await registry?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The resolved plugin config, and a started account built from it the way the channel does. */
async function started(raw: Record<string, unknown>) {
  const resolved = resolveAgentRegistry({ registryUrl: registry.url, registryApiKey: KEY, ...raw });
  if (!resolved.ok) throw new Error(`config refused: ${resolved.status.reason}`);
  const c = resolved.config as AgentRegistryConfig & { registryUrl: string; hostname: string };
  const dir = mkdtempSync(path.join(tmp, `${c.hostname}-`));
  const account = new AgentRegistryAccount({
    config: {
      ...c,
      installationId: c.installationId ?? c.hostname,
      apiKey: c.registryApiKey,
    } as ResolvedAccount,
    logger: quiet,
    home: dir,
    stateDir: dir,
    dispatch: async () => {},
    notify: async () => {},
  });
  accounts.push(account);
  await account.start();
  return { resolved, account, status: () => agentRegistryStatus(resolved, account) };
}

describe("agent-registry config resolution", () => {
  it("is disabled without a registry, invalid naming a bad value, unconfigured without a hostname", () => {
    expect(resolveAgentRegistry({})).toMatchObject({
      ok: false,
      status: { state: "disabled", reason: "no registry configured (set AGENT_REGISTRY_URL)" },
    });
    const bad = resolveAgentRegistry({ registryUrl: "http://reg.test", hostname: "a", transport: "pigeon" });
    expect(bad.ok ? [] : bad.status.problems).toEqual([
      expect.stringMatching(/^transport: .*\(got "pigeon"\)$/),
    ]);
    expect(resolveAgentRegistry({ registryUrl: "http://reg.test" })).toMatchObject({
      ok: false,
      status: { state: "unconfigured", problems: ["hostname: required"] },
    });
  });
});

describe("agent-registry status", { timeout: 60_000 }, () => {
  it("is idle before the account starts, and idle when it is not meant to be discoverable", async () => {
    const resolved = resolveAgentRegistry({
      registryUrl: registry.url,
      hostname: "shy",
      capabilities: ["x"],
    });
    expect(agentRegistryStatus(resolved, undefined)).toEqual({
      id: "agent-registry",
      enabled: true,
      configured: true,
      state: "idle",
      reason: "the channel account has not started (yet)",
      registryUrl: registry.url,
      hostname: "shy",
      installationId: "shy",
      capabilities: ["x"],
    });
    const { status } = await started({ hostname: "shy", discoverable: false, transport: "relay" });
    expect(status()).toMatchObject({
      state: "idle",
      reason: "not discoverable: not registered in the registry (messages from trusted peers are still read)",
      discoverable: false,
      registration: { state: "idle", agentId: null },
    });
  });

  it("is running once registered, with the transport in use, and never shows the registry key", async () => {
    const { account, status } = await started({ hostname: "alpha", transport: "relay" });
    await expect.poll(() => account.registration.state, { timeout: 10_000 }).toBe("registered");
    const st = status();
    expect(st).toMatchObject({
      state: "running",
      discoverable: true,
      registration: {
        state: "registered",
        agentId: expect.any(String),
        lastRegisteredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        registrations: 1,
        consecutiveFailures: 0,
        lastError: null,
      },
      transport: { configured: "relay", inUse: "relay" },
      pilot: { state: "off" },
      counters: { received: 0, sent: 0 },
      lastError: null,
    });
    expect(st.reason).toBeUndefined();
    expect(JSON.stringify(st)).not.toContain(KEY);
  });

  it("is degraded with the registration error while the registry cannot be reached", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const { account, status } = await started({
      registryUrl: deadUrl,
      hostname: "lonely",
      transport: "relay",
    });
    await expect.poll(() => account.registration.lastError, { timeout: 10_000 }).toBeDefined();
    expect(status()).toMatchObject({
      state: "degraded",
      reason: account.registration.lastError,
      registration: {
        state: expect.not.stringMatching(/^registered$/),
        lastError: account.registration.lastError,
      },
    });
  });

  it.skipIf(pilotInstalledHere())(
    "says when Pilot is missing, and whether messages still go out over the relay",
    async () => {
      const empty = mkdtempSync(path.join(tmp, "no-pilot-"));
      const pilot = { registry: `127.0.0.1:${registry.port}`, binDir: empty };
      const auto = await started({ hostname: "auto", transport: "auto", pilot });
      await expect.poll(() => auto.account.registration.state, { timeout: 10_000 }).toBe("registered");
      const missing = `pilot-daemon/pilotctl not found in ${empty} or PATH`;
      expect(auto.status()).toMatchObject({
        state: "degraded",
        reason: `Pilot is not running (${missing}); messages use the registry's HTTP relay`,
        transport: { configured: "auto", inUse: "relay" },
        pilot: { state: "failed", nodeId: null, address: null, restarts: 0, lastError: missing },
      });
      const only = await started({ hostname: "only", transport: "pilot", pilot });
      await expect.poll(() => only.account.registration.state, { timeout: 10_000 }).toBe("registered");
      expect(only.status()).toMatchObject({
        state: "degraded",
        reason: `Pilot is not running (${missing}); messages cannot be sent`,
        transport: { configured: "pilot", inUse: "none" },
      });
    },
  );

  it("reports the Pilot node it runs, registered under that node id", async () => {
    const binDir = path.resolve(import.meta.dirname, "../../../test/mocks/pilot/bin");
    const socketPath = path.join(mkdtempSync(path.join(tmp, "sock-")), "pilot.sock");
    const pilot = { registry: `127.0.0.1:${registry.port}`, binDir, socketPath };
    const { account, status } = await started({ hostname: "pilot-user", transport: "auto", pilot });
    await expect.poll(() => account.registration.state, { timeout: 10_000 }).toBe("registered");
    const info = account.daemon?.info;
    expect(status()).toMatchObject({
      state: "running",
      transport: { configured: "auto", inUse: "pilot" },
      pilot: {
        state: "running",
        nodeId: info?.node_id,
        address: info?.address,
        restarts: 0,
        pid: account.daemon?.pid,
        lastError: null,
      },
    });
    expect(account.daemon?.pid).toBeTypeOf("number");
    const listed = await fetch(`${registry.url}/api/v1/agents/by-hostname/pilot-user`, {
      headers: { "x-registry-key": KEY },
    });
    expect(await listed.json()).toMatchObject({ pilot_node_id: info?.node_id });
  });
});
