import { describe, expect, it } from "vitest";
import {
  loadRecordings,
  RECORDED_CALLS,
  type RecordedAnswer,
} from "../../../test/harness/auth-manager-recordings.ts";
import { authUpdatedAt, BrokerClient, type Identity, isDenied, refusalReason } from "./broker-client.ts";

// The broker client fed each answer the real Auth Manager gave (../shared/upstream-captures), in
// the recorded order, through an injected fetch: it parses every success and turns every refusal
// into the LEASE_ERR_* code callers act on, and it sends the method, path and body keys of the
// recorded call.
const loaded = loadRecordings();
if ("missing" in loaded && process.env.CI === "true")
  throw new Error(`contract recordings: ${loaded.missing}`);
// biome-ignore lint/suspicious/noConsole: a skipped contract test says why
if ("missing" in loaded) console.warn(`skipping the broker client contract test: ${loaded.missing}`);
const rec = "recordings" in loaded ? loaded.recordings : {};

const LEASE = "lease__hQsU5eKLVAU9tZi";
const ROTATED = "lease_4LYlSc8yQzWubBfJ";
const AUTH_AT = "2026-11-28T20:38:41.552998+00:00";
const me: Identity = { machineId: "m-a", agentId: "openclaw:main" };
const other: Identity = { machineId: "m-a", agentId: "openclaw:other" };

interface Sent {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
  authorization: string | undefined;
}

function clientAnswering(a: RecordedAnswer | undefined, token = "recorded-token") {
  const sent: Sent[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    sent.push({
      method: init.method ?? "GET",
      path: new URL(url).pathname,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      authorization: headers.authorization,
    });
    return new Response(JSON.stringify(a?.body), { status: a?.status ?? 599 });
  }) as typeof fetch;
  return { client: new BrokerClient({ baseUrl: "http://127.0.0.1:1", token, fetch: fetchFn }), sent };
}

type Outcome = { ok: (v: never) => void } | { code: string; refusal?: string; text?: RegExp };
type Step = [caseName: string, call: (c: BrokerClient) => Promise<unknown>, outcome: Outcome];

const telemetryBody = { captured_at: "2026-11-28T20:39:04Z", status: "ok" as const, requests_count: 1 };
const STEPS: Step[] = [
  [
    "acquire_new",
    (c) => c.acquire(me),
    {
      ok: (a: { reason: null; lease: { id: string } }) =>
        expect(a).toMatchObject({ reason: null, lease: { id: LEASE } }),
    },
  ],
  [
    "acquire_reused",
    (c) => c.acquire(me),
    { ok: (a: { reason: string }) => expect(a.reason).toBe("existing_machine_lease_reused") },
  ],
  [
    "get_before_materialize",
    (c) => c.get(LEASE),
    {
      ok: (v: never) =>
        expect(v).toMatchObject({
          id: LEASE,
          auth_refresh_required: true,
          credential_auth_updated_at: AUTH_AT,
        }),
    },
  ],
  [
    "materialize",
    (c) => c.materialize(LEASE, me),
    {
      ok: (m: { lease: never; authJson: { tokens: { access_token: string } } }) => {
        // The fix for a rewrite at every check: the timestamp is read where the server puts it.
        expect(authUpdatedAt(m.lease)).toBe(AUTH_AT);
        expect(m.authJson.tokens.access_token).toBe("<jwt>");
      },
    },
  ],
  [
    "get_after_materialize",
    (c) => c.get(LEASE),
    { ok: (v: never) => expect(authUpdatedAt(v)).toBe(AUTH_AT) },
  ],
  [
    "renew",
    (c) => c.renew(LEASE, me),
    {
      ok: (a: { lease: { expires_at: string } }) =>
        expect(a.lease.expires_at).toBe("2026-11-28T21:39:04.263456+00:00"),
    },
  ],
  [
    "telemetry",
    (c) => c.telemetry(LEASE, me, telemetryBody),
    { ok: (a: { status: string }) => expect(a.status).toBe("ok") },
  ],
  [
    "telemetry_missing_captured_at",
    (c) => c.telemetry(LEASE, me, telemetryBody),
    { code: "LEASE_ERR_HTTP", text: /HTTP 400 machine_id, agent_id, and captured_at are required/ },
  ],
  [
    "acquire_other_agent_same_machine",
    (c) => c.acquire(other),
    { ok: (a: { lease: { agent_id: string } }) => expect(a.lease.agent_id).toBe("openclaw:main") },
  ],
  [
    "materialize_not_owned",
    (c) => c.materialize(LEASE, other),
    { code: "LEASE_ERR_DENIED", refusal: "lease_not_found_or_not_owned" },
  ],
  [
    "renew_unknown_lease",
    (c) => c.renew("lease_unknown", me),
    { code: "LEASE_ERR_DENIED", refusal: "lease_not_found_or_not_owned" },
  ],
  [
    "get_unknown_lease",
    (c) => c.get("lease_unknown"),
    { code: "LEASE_ERR_NOT_FOUND", text: /HTTP 404 Lease not found/ },
  ],
  [
    "acquire_wrong_token",
    (c) => c.acquire(me),
    { code: "LEASE_ERR_UNAUTHORIZED", text: /HTTP 403 Invalid API key/ },
  ],
  [
    "acquire_no_token",
    (c) => c.acquire(me),
    { code: "LEASE_ERR_UNAUTHORIZED", text: /HTTP 401 API key required/ },
  ],
  [
    "rotate_invalid_reason",
    (c) => c.rotate(LEASE, me, "manual_rotate"),
    { code: "LEASE_ERR_HTTP", text: /HTTP 400 invalid rotation reason/ },
  ],
  [
    "telemetry_95pct",
    (c) => c.telemetry(LEASE, me, telemetryBody),
    { ok: (a: { lease: { state: string } }) => expect(a.lease.state).toBe("rotation_required") },
  ],
  [
    "get_rotation_required",
    (c) => c.get(LEASE),
    { ok: (v: never) => expect(v).toMatchObject({ state: "rotation_required", replacement_required: true }) },
  ],
  [
    "renew_rotation_required",
    (c) => c.renew(LEASE, me),
    { code: "LEASE_ERR_DENIED", refusal: "lease_not_renewable:rotation_required" },
  ],
  [
    "rotate_ok",
    (c) => c.rotate(LEASE, me, "unhealthy_credential"),
    { ok: (a: { lease: { id: string } }) => expect(a.lease.id).toBe(ROTATED) },
  ],
  [
    "acquire_denied_no_credentials",
    (c) => c.acquire({ machineId: "m-b", agentId: "openclaw:main" }),
    { code: "LEASE_ERR_DENIED", refusal: "no_eligible_credentials_available" },
  ],
  [
    "release",
    (c) => c.release(ROTATED, me),
    { ok: (a: { lease: { state: string } }) => expect(a.lease.state).toBe("released") },
  ],
  [
    "release_again",
    (c) => c.release(ROTATED, me),
    { code: "LEASE_ERR_DENIED", refusal: "lease_not_releasable:released" },
  ],
  [
    "get_released",
    (c) => c.get(ROTATED),
    { ok: (v: never) => expect(v).toMatchObject({ id: ROTATED, state: "released" }) },
  ],
];

describe.skipIf("missing" in loaded)("broker client against the real Auth Manager's recorded answers", () => {
  it.each(STEPS)("%s", async (name, call, outcome) => {
    const { client, sent } = clientAnswering(rec[name]);
    const result = await call(client).then(
      (v) => ({ v }),
      (e: unknown) => ({ e }),
    );
    if ("ok" in outcome) {
      expect("e" in result ? String((result as { e: unknown }).e) : "ok").toBe("ok");
      outcome.ok((result as { v: never }).v);
    } else {
      const e = (result as { e?: Error & { code?: string } }).e;
      expect(e?.code).toBe(outcome.code);
      if (outcome.refusal) expect(refusalReason(e)).toBe(outcome.refusal);
      if (outcome.code === "LEASE_ERR_DENIED") expect(isDenied(e)).toBe(true);
      if (outcome.text) expect(e?.message).toMatch(outcome.text);
      expect(e?.message).not.toContain("recorded-token");
    }
    // It sends what the recorded call sent: method, path shape and body keys.
    const recorded = RECORDED_CALLS.find((c) => c.case === name);
    const s = sent[0];
    expect(s?.method).toBe(recorded?.method);
    const pattern = (recorded?.path ?? "").replace(/\{lease\}|\{rotated\}|lease_unknown/, "[^/]+");
    expect(s?.path).toMatch(new RegExp(`^${pattern}$`));
    const keys = (b: Record<string, unknown> | undefined) =>
      Object.keys(b ?? {})
        .filter(
          (k) =>
            !k.startsWith("requests_") &&
            !k.startsWith("tokens_") &&
            k !== "utilization_pct" &&
            k !== "last_success_at",
        )
        .sort();
    if (!name.startsWith("telemetry")) expect(keys(s?.body)).toEqual(keys(recorded?.body));
    expect(s?.authorization).toBe("Bearer recorded-token");
  });

  it("covers every recorded answer", () => {
    expect(Object.keys(rec).filter((k) => !STEPS.some((s) => s[0] === k))).toEqual([]);
  });
});
