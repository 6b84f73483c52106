import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useGateways } from "../harness/vitest-hooks.ts";
import { waitFor } from "../harness/wait.ts";
import { DEFAULT_LEASE_TOKEN } from "../mocks/broker/lease-api.ts";
import { type MockBroker, startMockBroker } from "../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";

// A real gateway leasing from the mock broker; the broker's book is driven directly to revoke,
// exhaust and seed credentials.
const ID = "auth-manager-lease-telemetry";
let llm: MockLlm;
let broker: MockBroker;
beforeAll(async () => {
  llm = await startMockLlm({ name: "llm-lease" });
  // A gateway restart here takes up to ~3 min on a loaded two-core machine, longer than the
  // broker's 180 s reclaim: the restart test is about reuse, the reclaim has its own mock test.
  broker = await startMockBroker({ lease: { credentials: 1, reclaimAfterSeconds: 900 } });
});
afterAll(async () => {
  await broker?.close();
  await llm?.close();
});

const leaseConfig = (machineId: string) => ({
  baseUrl: broker.url,
  internalApiToken: "${AUTH_MANAGER_INTERNAL_API_TOKEN}",
  machineId,
  checkIntervalMs: 1000,
  telemetryFlushEveryRequests: 1,
});
const env = { AUTH_MANAGER_INTERNAL_API_TOKEN: DEFAULT_LEASE_TOKEN };
const gateways = useGateways(() => [
  { name: "holder", llmBaseUrl: llm.url, env, extensions: { [ID]: leaseConfig("holder-machine") } },
]);

interface LeaseStatus {
  state: string;
  serviceState: string;
  reason?: string;
  leaseId?: string;
  authFile: string;
  authFileWrittenAt?: string;
  authProfile?: string;
  flushes: number;
}

const status = (name: string) => gateways.byName(name).call<LeaseStatus>(`${ID}.status`);
const credentialOf = (leaseId: string) =>
  broker.lease.book.credentials.get(broker.lease.book.leases.get(leaseId)?.credentialId ?? "");

describe("auth-manager lease in real gateways", () => {
  it("acquires a lease and writes ~/.codex/auth.json 0600 with the credential's tokens", async () => {
    const s = await waitFor(
      "holder running",
      () => status("holder"),
      (v) => v.serviceState === "running",
    );
    const g = gateways.byName("holder");
    expect(s.authFile).toBe(path.join(g.home, ".codex", "auth.json"));
    const auth = JSON.parse(readFileSync(s.authFile, "utf8"));
    expect(auth.tokens.access_token).toBe(credentialOf(s.leaseId as string)?.accessToken);
    expect(statSync(s.authFile).mode & 0o777).toBe(0o600);
    expect(broker.lease.book.leases.get(s.leaseId as string)).toMatchObject({
      machineId: "holder-machine",
      agentId: "openclaw:main",
    });
    expect(s.authProfile).toBe("openai:auth-manager-lease");
    expect(JSON.stringify(s)).not.toContain(auth.tokens.access_token);
    expect(readFileSync(g.configPath, "utf8")).not.toContain(DEFAULT_LEASE_TOKEN);
  });

  it("reports the token usage of an agent turn to the broker", async () => {
    const s = await status("holder");
    const before = broker.lease.book.telemetry.filter((t) => t.leaseId === s.leaseId).length;
    const llmBefore = llm.requests.length;
    const res = await gateways.byName("holder").post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "count my tokens please" }],
    });
    expect(res.status).toBe(200);
    const served = llm.requests.filter((r) => r.lastUserText.includes("count my tokens please"));
    expect(served.length).toBeGreaterThan(0);
    const t = await waitFor(
      "telemetry",
      async () => broker.lease.book.telemetry.filter((x) => x.leaseId === s.leaseId),
      (v) => v.length > before,
    );
    await new Promise((r) => setTimeout(r, 1500)); // let any further call of the turn flush
    // Every model call of the turn is reported, with exactly the counts the mock LLM returned.
    const calls = llm.requests.slice(llmBefore).filter((r) => r.usage);
    const sent = t.slice(before).map((x) => x.body as Record<string, number>);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(sent.map((b) => b.requests_count ?? 0))).toBe(calls.length);
    expect(sum(sent.map((b) => b.tokens_in ?? 0))).toBe(sum(calls.map((c) => c.usage?.prompt_tokens ?? 0)));
    expect(sum(sent.map((b) => b.tokens_out ?? 0))).toBe(
      sum(calls.map((c) => c.usage?.completion_tokens ?? 0)),
    );
  });

  it("replaces a revoked lease and rewrites the auth within a check interval or two", async () => {
    const s = await status("holder");
    broker.lease.book.revoke(broker.lease.book.leases.get(s.leaseId as string) as never);
    const next = await waitFor(
      "new lease",
      () => status("holder"),
      (v) => v.leaseId !== s.leaseId && v.serviceState === "running",
      { ms: 15_000 },
    );
    expect(next.authFileWrittenAt).not.toBe(s.authFileWrittenAt);
    const auth = JSON.parse(readFileSync(next.authFile, "utf8"));
    expect(auth.tokens.access_token).toBe(credentialOf(next.leaseId as string)?.accessToken);
  });

  it("keeps running with a clear status when no credential is eligible, and leases once one is seeded", async () => {
    for (const c of broker.lease.book.credentials.values()) broker.lease.book.exhaust(c);
    const waiting = await waitFor(
      "holder waiting",
      () => status("holder"),
      (v) => v.serviceState === "waiting",
      { ms: 15_000 },
    );
    expect(waiting.reason).toMatch(/no eligible credential/);
    expect((await fetch(`${gateways.byName("holder").url}/readyz`)).ok).toBe(true);
    const fresh = broker.lease.book.seedCredential("acct-late");
    const running = await waitFor(
      "holder leased again",
      () => status("holder"),
      (v) => v.serviceState === "running",
      { ms: 15_000 },
    );
    expect(credentialOf(running.leaseId as string)?.id).toBe(fresh.id);
  });

  it("reuses the same lease after a gateway restart", async () => {
    const g = gateways.byName("holder");
    const s = await status("holder");
    const acquires = broker.lease.calls.get("POST /api/leases/acquire") ?? 0;
    const stopped = await g.stop();
    expect(stopped.signal).toBeNull(); // its stop finished; it was not SIGKILLed
    await g.start();
    const again = await waitFor(
      "holder running again",
      () => status("holder"),
      (v) => v.serviceState === "running",
    );
    expect(again.leaseId).toBe(s.leaseId);
    expect(broker.lease.calls.get("POST /api/leases/acquire") ?? 0).toBe(acquires);
  });
});
