import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import Transport from "winston-transport";
import {
  AGENT,
  loadRecordings,
  MACHINE,
  OTHER_AGENT,
  type RecordedAnswer,
  type ReplayServer,
  routeOf,
  startReplayServer,
} from "../../../test/harness/auth-manager-recordings.ts";
import { authManagerConfig } from "./config-schema.ts";
import { LeaseService } from "./lease-service.ts";

// The lease service driven by what the real Auth Manager answered (../shared/upstream-captures),
// replayed from a loopback server. Each scenario names the recorded answers it uses; the last
// test checks that together they use every recorded answer.
const loaded = loadRecordings();
if ("missing" in loaded && process.env.CI === "true")
  throw new Error(`contract recordings: ${loaded.missing}`);
// biome-ignore lint/suspicious/noConsole: a skipped contract test says why
if ("missing" in loaded) console.warn(`skipping the Auth Manager contract tests: ${loaded.missing}`);
const rec = "recordings" in loaded ? loaded.recordings : {};
const used = new Set<string>();

class Capture extends Transport {
  lines: string[] = [];
  override log(info: unknown, next: () => void) {
    this.lines.push(JSON.stringify(info));
    next();
  }
}

/** A recorded answer by case name; marks it used. */
function answer(name: string): RecordedAnswer {
  const a = rec[name];
  if (!a) throw new Error(`no recording named ${name}`);
  used.add(name);
  return a;
}

const LEASE = "lease__hQsU5eKLVAU9tZi";
/** Recorded time of the session: the recorded leases expire at 21:38-21:39. */
const RECORDED_NOW = "2026-11-28T20:39:30Z";
const open: Array<{ server: ReplayServer; service: LeaseService }> = [];

afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.service.stop();
    await o.server.close();
  }
  vi.useRealTimers();
});

interface Scenario {
  /** Route (`POST /api/leases/{id}/renew`) -> recorded cases answered in turn; the last repeats. */
  script: Record<string, Array<string | (() => RecordedAnswer)>>;
  agentId?: string;
  now?: string;
  persisted?: { leaseId: string; authUpdatedAt?: string };
  config?: Record<string, unknown>;
}

async function scenario(s: Scenario) {
  vi.useFakeTimers({ toFake: ["Date"], now: new Date(s.now ?? RECORDED_NOW) });
  const turn = new Map<string, number>();
  const server = await startReplayServer((call) => {
    const list = s.script[routeOf(call)];
    if (!list) return undefined;
    const i = turn.get(routeOf(call)) ?? 0;
    turn.set(routeOf(call), i + 1);
    const pick = list[Math.min(i, list.length - 1)] as string | (() => RecordedAnswer);
    return typeof pick === "string" ? answer(pick) : pick();
  });
  const dir = mkdtempSync(path.join(tmpdir(), "lease-contract-"));
  if (s.persisted) {
    mkdirSync(path.join(dir, "state", "auth-manager"), { recursive: true });
    writeFileSync(
      path.join(dir, "state", "auth-manager", "lease.json"),
      JSON.stringify({ machineId: MACHINE, agentId: s.agentId ?? AGENT, ...s.persisted }),
    );
  }
  const logs = new Capture();
  const config = authManagerConfig.parse(
    {
      baseUrl: server.url,
      internalApiToken: "recorded-token-0123456789",
      machineId: MACHINE,
      agentId: s.agentId ?? AGENT,
      codexAuthPath: path.join(dir, "codex", "auth.json"),
      ...s.config,
    },
    "test",
  ) as ReturnType<typeof authManagerConfig.parse> & { baseUrl: string; internalApiToken: string };
  const service = new LeaseService({
    config,
    stateDir: path.join(dir, "state"),
    logger: createLogger({ extension: "lease-contract", transports: [logs], level: "debug" }),
  });
  open.push({ server, service });
  const count = (route: string) => server.calls.filter((c) => routeOf(c) === route).length;
  return { service, server, logs, count, authFile: config.codexAuthPath as string };
}

const lastSnapshot = () => open.at(-1)?.service.snapshot;

async function until(cond: () => boolean, what: string, ms = 5000, snap = lastSnapshot) {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end)
      throw new Error(`${what}: not reached in time (${JSON.stringify(snap?.())})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ACQUIRE = "POST /api/leases/acquire";
const GET = "GET /api/leases/{id}";
const MATERIALIZE = "POST /api/leases/{id}/materialize";
const RENEW = "POST /api/leases/{id}/renew";
const ROTATE = "POST /api/leases/rotate";
const TELEMETRY = "POST /api/leases/{id}/telemetry";
const RELEASE = "POST /api/leases/{id}/release";
const AUTH_AT = "2026-11-28T20:38:41.552998+00:00";

describe.skipIf("missing" in loaded)("lease service against the real Auth Manager's recorded answers", () => {
  it("writes auth.json once per lease, not at every check (acquire_new, materialize, get_after_materialize, telemetry)", async () => {
    const t = await scenario({
      script: {
        [ACQUIRE]: ["acquire_new"],
        [MATERIALIZE]: ["materialize"],
        [GET]: ["get_after_materialize"],
        [TELEMETRY]: ["telemetry"],
      },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "running", "running");
    const written = t.service.snapshot.authFileWrittenAt;
    // Codex refreshes its tokens in place; the lease service must leave that file alone.
    const local = JSON.parse(readFileSync(t.authFile, "utf8"));
    local.tokens.access_token = "refreshed-locally-by-codex";
    writeFileSync(t.authFile, JSON.stringify(local));
    for (let i = 0; i < 3; i++) await t.service.checkNow();
    expect(t.count(MATERIALIZE)).toBe(1);
    expect(t.count(GET)).toBe(3);
    expect(t.service.snapshot.authFileWrittenAt).toBe(written);
    expect(JSON.parse(readFileSync(t.authFile, "utf8")).tokens.access_token).toBe(
      "refreshed-locally-by-codex",
    );
    expect(statSync(t.authFile).mode & 0o777).toBe(0o600);
    t.service.recordUsage({ input: 10, output: 5 });
    await t.service.flush();
    expect(t.service.snapshot).toMatchObject({ state: "running", leaseId: LEASE, flushes: 1 });
  });

  it("rematerializes a reused persisted lease once, then keeps it (get_before_materialize, materialize)", async () => {
    const t = await scenario({
      persisted: { leaseId: LEASE },
      script: { [GET]: ["get_before_materialize", "get_after_materialize"], [MATERIALIZE]: ["materialize"] },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "running", "running");
    await t.service.checkNow();
    await t.service.checkNow();
    expect(t.count(MATERIALIZE)).toBe(1);
    expect(t.count(ACQUIRE)).toBe(0);
  });

  it("takes the machine's existing lease back from acquire and writes it once (acquire_reused)", async () => {
    const t = await scenario({
      script: {
        [ACQUIRE]: ["acquire_reused"],
        [MATERIALIZE]: ["materialize"],
        [GET]: ["get_after_materialize"],
      },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "running", "running");
    await t.service.checkNow();
    expect(t.count(MATERIALIZE)).toBe(1);
    expect(t.service.snapshot.leaseId).toBe(LEASE);
  });

  it("renews near expiry (renew)", async () => {
    const t = await scenario({
      now: "2026-11-28T21:25:00Z",
      persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
      script: { [GET]: ["get_after_materialize"], [RENEW]: ["renew"] },
    });
    t.service.start();
    await until(() => t.count(RENEW) === 1 && t.service.snapshot.state === "running", "renewed");
    await until(() => t.service.snapshot.expiresAt === "2026-11-28T21:39:04.263456+00:00", "new expiry");
    expect(t.count(MATERIALIZE)).toBe(0);
  });

  it.each([["renew_unknown_lease"], ["renew_rotation_required"]])(
    "a refused renewal (%s) gets the machine's lease back without rewriting its auth",
    async (refusal) => {
      const t = await scenario({
        now: "2026-11-28T21:25:00Z",
        persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
        script: { [GET]: ["get_after_materialize"], [RENEW]: [refusal], [ACQUIRE]: ["acquire_reused"] },
      });
      t.service.start();
      await until(() => t.count(ACQUIRE) === 1 && t.service.snapshot.state === "running", "reacquired");
      expect(t.count(MATERIALIZE)).toBe(0);
    },
  );

  it("another agent's lease on this machine: blocked with what to do, no call on it, no loop (acquire_other_agent_same_machine, materialize_not_owned)", async () => {
    const t = await scenario({
      agentId: OTHER_AGENT,
      script: { [ACQUIRE]: ["acquire_other_agent_same_machine"], [MATERIALIZE]: ["materialize_not_owned"] },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "blocked", "blocked");
    for (let i = 0; i < 3; i++) await t.service.checkNow();
    expect(t.count(ACQUIRE)).toBe(1);
    expect(t.count(MATERIALIZE)).toBe(0);
    expect(t.service.snapshot).toMatchObject({ state: "blocked", problem: "LEASE_ERR_FOREIGN_LEASE" });
    expect(t.service.snapshot.reason).toContain(`agent "${AGENT}" on machine "${MACHINE}"`);
    expect(t.service.snapshot.reason).toContain("AUTH_MANAGER_AGENT_ID");
    expect(t.service.snapshot.reason).not.toMatch(/no eligible credential/);
    // The 409 a call on that lease would get is the broker's answer to exactly this case.
    answer("materialize_not_owned");
  });

  it("waits when no credential is eligible (acquire_denied_no_credentials)", async () => {
    const t = await scenario({ script: { [ACQUIRE]: ["acquire_denied_no_credentials"] } });
    t.service.start();
    await until(() => t.service.snapshot.state === "waiting", "waiting");
    expect(t.service.snapshot.reason).toMatch(/no_eligible_credentials_available/);
  });

  it.each([
    ["acquire_wrong_token", /HTTP 403 Invalid API key/],
    ["acquire_no_token", /HTTP 401 API key required/],
  ])("a refused token (%s) degrades with the broker's words, never the token", async (name, text) => {
    const t = await scenario({ script: { [ACQUIRE]: [name] } });
    t.service.start();
    await until(() => t.service.snapshot.state === "degraded", "degraded");
    expect(t.service.snapshot.reason).toMatch(text);
    expect(t.service.snapshot.problem).toBe("LEASE_ERR_UNAUTHORIZED");
    expect(JSON.stringify(t.service.snapshot) + t.logs.lines.join("")).not.toContain("recorded-token");
  });

  it("a refused rotation: degraded with the reason, no repeat, no rewrite (get_rotation_required, rotate_invalid_reason)", async () => {
    const t = await scenario({
      persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
      script: { [GET]: ["get_rotation_required"], [ROTATE]: ["rotate_invalid_reason"] },
    });
    t.service.start();
    await until(
      () => t.service.snapshot.state === "running" || t.service.snapshot.state === "degraded",
      "up",
    );
    for (let i = 0; i < 3; i++) await t.service.checkNow();
    expect(t.count(ROTATE)).toBe(1);
    expect(t.count(ACQUIRE)).toBe(0);
    expect(t.count(MATERIALIZE)).toBe(0);
    expect(t.service.snapshot).toMatchObject({
      state: "degraded",
      problem: "LEASE_ERR_ROTATION_REFUSED",
      leaseId: LEASE,
      leaseState: "rotation_required",
    });
    expect(t.service.snapshot.reason).toMatch(/refused the rotation \(invalid rotation reason\)/);
  });

  it("rotates when required, writes the new lease's auth, releases it on shutdown (telemetry_95pct, rotate_ok, release)", async () => {
    const m = () => answer("materialize");
    const rotated = () => {
      // Materialize of the rotated lease: not recorded; the recorded materialize answer with the
      // rotated lease in it (the server's materialize returns its lease row plus metadata).
      const a = m().body as { lease: Record<string, unknown> };
      const r = (answer("rotate_ok").body as { lease: Record<string, unknown> }).lease;
      return { status: 200, body: { ...a, lease: { ...r, metadata: a.lease.metadata } } };
    };
    const t = await scenario({
      persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
      config: { releaseLeaseOnShutdown: true },
      script: {
        [GET]: ["get_after_materialize", "get_rotation_required"],
        [TELEMETRY]: ["telemetry_95pct"],
        [ROTATE]: ["rotate_ok"],
        [MATERIALIZE]: [rotated],
        [RELEASE]: ["release"],
      },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "running", "running");
    t.service.recordUsage({ input: 1, output: 1 });
    await t.service.flush();
    expect(t.service.snapshot.flushes).toBe(1);
    await t.service.checkNow();
    expect(t.service.snapshot).toMatchObject({ state: "running", leaseId: "lease_4LYlSc8yQzWubBfJ" });
    expect(t.count(MATERIALIZE)).toBe(1);
    await t.service.stop();
    expect(t.count(RELEASE)).toBe(1);
    expect(t.service.snapshot.lastError).toBeUndefined();
  });

  it("a release the broker refuses (release_again) does not fail the stop", async () => {
    const t = await scenario({
      persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
      config: { releaseLeaseOnShutdown: true },
      script: { [GET]: ["get_after_materialize"], [RELEASE]: ["release_again"] },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "running", "running");
    await t.service.stop();
    expect(t.service.snapshot.state).toBe("stopped");
    expect(t.service.snapshot.lastError).toMatch(/lease_not_releasable:released/);
  });

  it.each([["get_unknown_lease"], ["get_released"]])(
    "a lease the broker no longer holds for us (%s) is replaced",
    async (gone) => {
      const t = await scenario({
        persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
        script: {
          [GET]: ["get_after_materialize", gone],
          [ACQUIRE]: ["acquire_denied_no_credentials"],
        },
      });
      t.service.start();
      await until(() => t.service.snapshot.state === "running", "running");
      await t.service.checkNow();
      expect(t.count(ACQUIRE)).toBe(1);
      expect(t.service.snapshot.state).toBe("waiting");
    },
  );

  it("usage a 400 refused stays pending (telemetry_missing_captured_at)", async () => {
    const t = await scenario({
      persisted: { leaseId: LEASE, authUpdatedAt: AUTH_AT },
      script: { [GET]: ["get_after_materialize"], [TELEMETRY]: ["telemetry_missing_captured_at"] },
    });
    t.service.start();
    await until(() => t.service.snapshot.state === "running", "running");
    t.service.recordUsage({ input: 3, output: 2 });
    await expect(t.service.flush()).rejects.toThrow(
      /HTTP 400 machine_id, agent_id, and captured_at are required/,
    );
    expect(t.service.snapshot.pending).toEqual({ requests: 1, tokensIn: 3, tokensOut: 2 });
  });
});

afterAll(() => {
  // Every recorded answer was replayed to the service by one scenario above.
  if ("missing" in loaded) return;
  expect([...Object.keys(rec)].filter((k) => !used.has(k))).toEqual([]);
});
