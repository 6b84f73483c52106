import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_LEASE_TOKEN } from "../../../test/mocks/broker/lease-api.ts";
import { type MockBroker, startMockBroker } from "../../../test/mocks/broker/server.ts";
import type { AuthManagerConfig } from "./config-schema.ts";
import { LeaseService } from "./lease-service.ts";
import { authManagerStatus, resolveAuthManager } from "./status.ts";

// `auth-manager-lease-telemetry.status` from plugin config plus AUTH_MANAGER_* fallbacks, and from
// a lease service holding a lease of the mock broker.

const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const TOKEN = "internal-token-0123456789";
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe("auth-manager config resolution", () => {
  const withToken = { AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN };
  const problemsOf = (baseUrl: string) => {
    const r = resolveAuthManager({ baseUrl }, withToken);
    return r.ok ? [] : r.status.problems;
  };

  it("takes plain http only to a loopback host", () => {
    for (const url of ["http://localhost:1", "http://127.0.0.9", "http://127.1:8080", "http://[::1]:8080"])
      expect({ url, problems: problemsOf(url) }).toEqual({ url, problems: [] });
    const https =
      "an https baseUrl (http only on localhost, or with allowHttp / AUTH_MANAGER_ALLOW_HTTP=true): required";
    // 127.example.test is a DNS name: it may resolve anywhere, so the token would cross the network in clear.
    for (const url of ["http://auth.example.test", "http://127.example.test"])
      expect({ url, problems: problemsOf(url) }).toEqual({ url, problems: [https] });
  });

  it("fills keys the config omits from AUTH_MANAGER_*, the config winning", () => {
    const env = {
      ...withToken,
      AUTH_MANAGER_BASE_URL: "https://env.example.test",
      AUTH_MANAGER_MACHINE_ID: "m-env",
      AUTH_MANAGER_TELEMETRY_INTERVAL_MS: "5000",
      AUTH_MANAGER_AUTO_RENEW: " OFF ",
      AUTH_MANAGER_AUTO_ROTATE: "yes",
      AUTH_MANAGER_RELEASE_LEASE_ON_SHUTDOWN: "",
      AUTH_MANAGER_AGENT_ID: "",
    };
    const r = resolveAuthManager({ machineId: "m-config" }, env);
    expect(r.ok && r.config).toMatchObject({
      baseUrl: "https://env.example.test",
      internalApiToken: TOKEN,
      machineId: "m-config",
      telemetryIntervalMs: 5000,
      autoRenew: false,
      autoRotate: true,
      releaseLeaseOnShutdown: false,
      agentId: "main",
    });
    const soon = resolveAuthManager("not an object", { ...env, AUTH_MANAGER_TELEMETRY_INTERVAL_MS: "soon" });
    expect(soon.ok ? [] : soon.status.problems).toEqual([
      expect.stringMatching(/^telemetryIntervalMs: .*"soon"/),
    ]);
  });

  it("refuses a check interval the broker's 180 s reclaim would outrun, naming the value and the bound", () => {
    const base = { baseUrl: "https://auth.example.test", internalApiToken: TOKEN };
    const slow = resolveAuthManager({ ...base, checkIntervalMs: 3_600_000 }, {});
    expect(slow.ok ? [] : slow.status.problems).toEqual([
      "checkIntervalMs: must be at most 60000 ms: the Auth Manager reclaims a lease it has not seen for 180 s, and each check is what it sees (got 3600000)",
    ]);
    expect(resolveAuthManager({ ...base, checkIntervalMs: 60_000 }, {}).ok).toBe(true);
    expect(resolveAuthManager({ ...base, checkIntervalMs: 60_001 }, {}).ok).toBe(false);
  });

  it("names a bad variable, a missing token and plain http to a remote host", () => {
    expect(resolveAuthManager({}, {})).toMatchObject({
      ok: false,
      status: { state: "disabled", reason: "no Auth Manager configured (set AUTH_MANAGER_BASE_URL)" },
    });
    const badBool = resolveAuthManager(
      { baseUrl: "https://auth.example.test", internalApiToken: TOKEN },
      { AUTH_MANAGER_AUTO_RENEW: "maybe" },
    );
    expect(badBool.ok ? [] : badBool.status.problems).toEqual([
      expect.stringMatching(/^autoRenew: .*AUTH_MANAGER_AUTO_RENEW=maybe \(expected true or false\)/),
    ]);
    const unsafe = resolveAuthManager({ baseUrl: "http://auth.example.test" }, {});
    expect(unsafe).toMatchObject({
      ok: false,
      status: {
        state: "unconfigured",
        problems: [
          "internalApiToken (AUTH_MANAGER_INTERNAL_API_TOKEN): required",
          "an https baseUrl (http only on localhost, or with allowHttp / AUTH_MANAGER_ALLOW_HTTP=true): required",
        ],
      },
    });
    const allowed = resolveAuthManager(
      { baseUrl: "http://auth.example.test", allowHttp: true },
      { AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN },
    );
    expect(allowed.ok && allowed.config.internalApiToken).toBe(TOKEN);
  });
});

describe("auth-manager status", () => {
  async function leased(): Promise<{ broker: MockBroker; config: AuthManagerConfig; lease: LeaseService }> {
    const broker = await startMockBroker({ lease: { credentials: 1 } });
    cleanup.push(() => broker.close());
    const dir = mkdtempSync(path.join(tmpdir(), "auth-status-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const resolved = resolveAuthManager(
      { baseUrl: broker.url, machineId: "node-x", codexAuthPath: path.join(dir, "auth.json") },
      { AUTH_MANAGER_INTERNAL_API_TOKEN: DEFAULT_LEASE_TOKEN },
    );
    if (!resolved.ok) throw new Error(`config refused: ${resolved.status.reason}`);
    const config = resolved.config as AuthManagerConfig & { baseUrl: string; internalApiToken: string };
    const lease = new LeaseService({ config, stateDir: dir, logger: quiet, writeProfile: async () => true });
    cleanup.push(() => lease.stop());
    return { broker, config, lease };
  }

  it("is idle until the lease service starts, then running with the lease and never the token", async () => {
    const { broker, config, lease } = await leased();
    const resolved = { ok: true as const, enabled: true as const, config };
    expect(authManagerStatus(resolved, undefined)).toEqual({
      id: "auth-manager-lease-telemetry",
      enabled: true,
      configured: true,
      state: "idle",
      reason: "configured; the lease service has not started yet",
      baseUrl: broker.url,
    });
    expect(authManagerStatus(resolved, lease.snapshot)).toMatchObject({
      state: "idle",
      serviceState: "starting",
    });
    lease.start();
    await expect.poll(() => lease.snapshot.state, { timeout: 5000 }).toBe("running");
    const st = authManagerStatus(resolved, lease.snapshot);
    expect(st).toMatchObject({
      state: "running",
      serviceState: "running",
      machineId: "node-x",
      leaseId: expect.any(String),
      baseUrl: broker.url,
    });
    expect(JSON.stringify(st)).not.toContain(DEFAULT_LEASE_TOKEN);
    await lease.stop();
    expect(authManagerStatus(resolved, lease.snapshot)).toMatchObject({
      state: "idle",
      serviceState: "stopped",
    });
    for (const state of ["waiting", "blocked", "degraded"] as const)
      expect(authManagerStatus(resolved, { ...lease.snapshot, state, reason: "broker 503" })).toMatchObject({
        state: "degraded",
        serviceState: state,
        reason: "broker 503",
      });
  });

  it("passes a config problem through as the status", () => {
    expect(authManagerStatus(resolveAuthManager({}, {}), undefined)).toMatchObject({
      state: "disabled",
      enabled: false,
    });
  });
});
