import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import Transport from "winston-transport";
import { DEFAULT_LEASE_TOKEN } from "../../../test/mocks/broker/lease-api.ts";
import { type MockBroker, startMockBroker } from "../../../test/mocks/broker/server.ts";
import type { OAuthProfileCredential } from "./auth-files.ts";
import { authManagerConfig } from "./config-schema.ts";
import { LeaseService } from "./lease-service.ts";

class Capture extends Transport {
  lines: string[] = [];
  override log(info: unknown, next: () => void) {
    this.lines.push(JSON.stringify(info));
    next();
  }
}

let broker: MockBroker;
let dir: string;
let logs: Capture;
const services: LeaseService[] = [];
const profiles: Array<{ id: string; cred: OAuthProfileCredential }> = [];

beforeEach(async () => {
  broker = await startMockBroker({ lease: { credentials: 1 } });
  dir = mkdtempSync(path.join(tmpdir(), "lease-"));
  logs = new Capture();
  profiles.length = 0;
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await broker.close();
});

function service(over: Record<string, unknown> = {}, stateDir = "state") {
  const config = authManagerConfig.parse(
    {
      baseUrl: broker.url,
      internalApiToken: DEFAULT_LEASE_TOKEN,
      machineId: "node-x",
      codexAuthPath: path.join(dir, "codex", "auth.json"),
      checkIntervalMs: 60_000,
      ...over,
    },
    "test",
  ) as ReturnType<typeof authManagerConfig.parse> & { baseUrl: string; internalApiToken: string };
  const s = new LeaseService({
    config,
    stateDir: path.join(dir, stateDir),
    logger: createLogger({ extension: "lease-test", transports: [logs], level: "debug" }),
    writeProfile: async (id, cred) => {
      profiles.push({ id, cred });
      return true;
    },
  });
  services.push(s);
  return s;
}

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const authFile = () => JSON.parse(readFileSync(path.join(dir, "codex", "auth.json"), "utf8"));

describe("LeaseService against the mock broker", () => {
  it("acquires with the configured ids, writes auth.json 0600 and the auth profile", async () => {
    const s = service();
    s.start();
    await until(() => s.snapshot.state === "running");
    const lease = [...broker.lease.book.leases.values()][0];
    expect(lease).toMatchObject({ machineId: "node-x", agentId: "openclaw:main" });
    const cred = broker.lease.book.credentials.get(lease?.credentialId ?? "");
    expect(authFile().tokens.access_token).toBe(cred?.accessToken);
    expect(statSync(path.join(dir, "codex", "auth.json")).mode & 0o777).toBe(0o600);
    expect(profiles[0]).toMatchObject({
      id: "openai:auth-manager-lease",
      cred: { provider: "openai", access: cred?.accessToken },
    });
    // The real broker's acquire answer has no credential_state; the first check (GET) brings it.
    await s.checkNow();
    expect(s.snapshot).toMatchObject({ leaseId: lease?.id, leaseState: "active", credentialState: "leased" });
    expect(logs.lines.join("\n")).not.toContain(cred?.accessToken);
  });

  it("reuses the persisted lease after a restart", async () => {
    const a = service();
    a.start();
    await until(() => a.snapshot.state === "running");
    await a.stop();
    const b = service();
    b.start();
    await until(() => b.snapshot.state === "running");
    expect(b.snapshot.leaseId).toBe(a.snapshot.leaseId);
    expect(broker.lease.calls.get("POST /api/leases/acquire")).toBe(1);
  });

  it("replaces a revoked lease and rewrites the auth", async () => {
    broker.lease.book.seedCredential();
    const s = service();
    s.start();
    await until(() => s.snapshot.state === "running");
    const first = s.snapshot.leaseId as string;
    const writtenAt = s.snapshot.authFileWrittenAt;
    await new Promise((r) => setTimeout(r, 5));
    broker.lease.book.revoke(broker.lease.book.leases.get(first) as never);
    await s.checkNow();
    const second = broker.lease.book.leases.get(s.snapshot.leaseId as string);
    expect(second?.id).not.toBe(first);
    expect(s.snapshot.authFileWrittenAt).not.toBe(writtenAt);
    expect(authFile().tokens.access_token).toBe(
      broker.lease.book.credentials.get(second?.credentialId ?? "")?.accessToken,
    );
  });

  it("waits without failing when no credential is eligible, then acquires once one is seeded", async () => {
    for (const c of broker.lease.book.credentials.values()) c.state = "exhausted";
    const s = service();
    s.start();
    await until(() => s.snapshot.state === "waiting");
    expect(s.snapshot.reason).toMatch(/no_eligible_credentials_available/);
    broker.lease.book.seedCredential();
    await until(() => s.snapshot.state === "running", 8000);
  });

  it("rematerializes when the broker refreshes the credential's auth", async () => {
    const s = service();
    s.start();
    await until(() => s.snapshot.state === "running");
    const cred = [...broker.lease.book.credentials.values()][0];
    await new Promise((r) => setTimeout(r, 5));
    if (cred) broker.lease.book.refreshAuth(cred);
    await s.checkNow();
    expect(authFile().tokens.access_token).toBe(cred?.accessToken);
  });

  it("flushes usage every N requests and at stop; keeps counts a failed flush did not deliver", async () => {
    const s = service({ telemetryFlushEveryRequests: 2 });
    s.start();
    await until(() => s.snapshot.state === "running");
    s.recordUsage({ input: 10, output: 3 });
    s.recordUsage(undefined); // nothing invented
    s.recordUsage({ prompt_tokens: 5, completion_tokens: 2 });
    await until(() => broker.lease.book.telemetry.length === 1);
    expect(broker.lease.book.telemetry[0]?.body).toMatchObject({
      requests_count: 2,
      tokens_in: 15,
      tokens_out: 5,
      status: "ok",
      machine_id: "node-x",
    });
    s.recordUsage({ input: 1, output: 1 });
    await s.stop();
    expect(broker.lease.book.telemetry[1]?.body).toMatchObject({ requests_count: 1, tokens_in: 1 });

    const t = service();
    t.start();
    await until(() => t.snapshot.state === "running");
    t.recordUsage({ input: 4, output: 4 });
    await broker.close();
    await expect(t.flush()).rejects.toThrow(/unreachable/);
    expect(t.snapshot.pending).toEqual({ requests: 1, tokensIn: 4, tokensOut: 4 });
    broker = await startMockBroker();
  });

  it("writes auth.json once per lease, not at every check", async () => {
    const s = service();
    s.start();
    await until(() => s.snapshot.state === "running");
    const written = s.snapshot.authFileWrittenAt;
    for (let i = 0; i < 3; i++) await s.checkNow();
    expect(broker.lease.calls.get("POST /api/leases/{id}/materialize")).toBe(1);
    expect(s.snapshot.authFileWrittenAt).toBe(written);
  });

  it("another agent's lease on this machine leaves the service blocked, saying what to do", async () => {
    const holder = service();
    holder.start();
    await until(() => holder.snapshot.state === "running");
    const other = service({ agentId: "other" }, "other-state");
    other.start();
    await until(() => other.snapshot.state === "blocked");
    for (let i = 0; i < 3; i++) await other.checkNow();
    expect(broker.lease.calls.get("POST /api/leases/acquire")).toBe(2);
    expect(broker.lease.calls.get("POST /api/leases/{id}/materialize")).toBe(1); // the holder's only
    expect(other.snapshot).toMatchObject({ state: "blocked", problem: "LEASE_ERR_FOREIGN_LEASE" });
    expect(other.snapshot.reason).toContain('held by agent "openclaw:main"');
  });

  it("a rotation the broker refuses: degraded with the reason, asked again only after a backoff", async () => {
    const s = service();
    s.start();
    await until(() => s.snapshot.state === "running");
    const lease = broker.lease.book.leases.get(s.snapshot.leaseId as string);
    if (lease)
      broker.lease.book.report(lease, { captured_at: new Date().toISOString(), utilization_pct: 95 });
    for (let i = 0; i < 3; i++) await s.checkNow();
    expect(broker.lease.calls.get("POST /api/leases/rotate")).toBe(1);
    expect(broker.lease.calls.get("POST /api/leases/acquire")).toBe(1);
    expect(broker.lease.calls.get("POST /api/leases/{id}/materialize")).toBe(1);
    expect(s.snapshot).toMatchObject({
      state: "degraded",
      problem: "LEASE_ERR_ROTATION_REFUSED",
      leaseState: "rotation_required",
    });
    expect(s.snapshot.reason).toMatch(
      /refused the rotation \(no_eligible_credentials_available\).*asking again in \d+ s/,
    );
  });

  it("an auth file it cannot write: degraded, and asked again with a growing backoff, not every second", async () => {
    // A file where the folder should be: what a read-only root without a ~/.codex volume does.
    writeFileSync(path.join(dir, "blocked"), "");
    const s = service({ codexAuthPath: path.join(dir, "blocked", "codex", "auth.json") });
    s.start();
    await until(() => s.snapshot.state === "degraded" && /could not write/.test(s.snapshot.reason ?? ""));
    const first = Number(/retrying in (\d+) s/.exec(s.snapshot.reason ?? "")?.[1]);
    await until(() => (broker.lease.calls.get("POST /api/leases/acquire") ?? 0) >= 2, 8000);
    await until(() => Number(/retrying in (\d+) s/.exec(s.snapshot.reason ?? "")?.[1]) > first, 8000);
    // The broker answered each time: that success must not reset the backoff the write failure needs.
    expect(broker.lease.calls.get("POST /api/leases/acquire")).toBeLessThanOrEqual(3);
  });

  it("releases on shutdown only when configured", async () => {
    const keep = service();
    keep.start();
    await until(() => keep.snapshot.state === "running");
    await keep.stop();
    expect(broker.lease.book.leases.get(keep.snapshot.leaseId as string)?.state).toBe("active");
    const rel = service({ releaseLeaseOnShutdown: true });
    rel.start();
    await until(() => rel.snapshot.state === "running");
    await rel.stop();
    expect(broker.lease.book.leases.get(rel.snapshot.leaseId as string)?.state).toBe("released");
  });
});
