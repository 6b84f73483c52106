import { describe, expect, it } from "vitest";
import type { LeaseView } from "./broker-client.ts";
import { decide, type PolicyInput, renewMarginMs } from "./policy.ts";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const HOUR = 3_600_000;

function input(lease: Partial<LeaseView> | undefined, over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    lease: lease
      ? ({
          id: "l1",
          state: "active",
          credential_state: "leased",
          expires_at: new Date(NOW + HOUR).toISOString(),
          credential_auth_updated_at: "t1",
          ...lease,
        } as LeaseView)
      : undefined,
    now: NOW,
    autoRenew: true,
    autoRotate: false,
    rotationPolicy: "replacement_required_only",
    renewMarginMs: 10 * 60_000,
    materializedAuthAt: "t1",
    ...over,
  };
}

describe("lease policy decision table", () => {
  it("keeps a healthy lease", () => {
    expect(decide(input({}))).toEqual({ kind: "keep" });
  });

  it.each(["released", "revoked", "expired"])("reacquires when the lease is %s", (state) => {
    expect(decide(input({ state }))).toMatchObject({ kind: "reacquire", why: `lease ${state}` });
  });

  it.each(["exhausted", "revoked", "expired"])("reacquires when the credential is %s", (credential_state) => {
    expect(decide(input({ credential_state }))).toMatchObject({
      kind: "reacquire",
      why: `credential ${credential_state}`,
    });
  });

  it.each(["available", "leased", "cooldown"])(
    "does not reacquire for credential state %s",
    (credential_state) => {
      expect(decide(input({ credential_state })).kind).toBe("keep");
    },
  );

  it("reacquires on 404 and on a lease past its expiry", () => {
    expect(decide(input(undefined))).toMatchObject({ kind: "reacquire" });
    expect(decide(input({ expires_at: new Date(NOW - 1).toISOString() }))).toMatchObject({
      kind: "reacquire",
    });
  });

  it("rotates when replacement is required, even with autoRotate off", () => {
    expect(decide(input({ replacement_required: true }))).toMatchObject({
      kind: "rotate",
      reason: "unhealthy_credential",
    });
    expect(decide(input({ state: "rotation_required" }))).toMatchObject({ kind: "rotate" });
  });

  it("rotates on a recommendation only with autoRotate and the permissive policy", () => {
    const lease = { rotation_recommended: true };
    expect(decide(input(lease)).kind).toBe("keep");
    expect(decide(input(lease, { autoRotate: true })).kind).toBe("keep");
    expect(
      decide(input(lease, { autoRotate: true, rotationPolicy: "recommended_or_required" })),
    ).toMatchObject({
      kind: "rotate",
      reason: "approaching_utilization_threshold",
    });
  });

  it("rematerializes when the broker refreshed the credential's auth", () => {
    expect(decide(input({ credential_auth_updated_at: "t2" })).kind).toBe("rematerialize");
    expect(decide(input({ credential_auth_updated_at: null, auth_refresh_required: true })).kind).toBe(
      "rematerialize",
    );
  });

  it("does not rewrite the auth already on disk: once per credential update, not per check", () => {
    expect(decide(input({ credential_auth_updated_at: "t1", auth_refresh_required: true })).kind).toBe(
      "keep",
    );
    expect(decide(input({ credential_auth_updated_at: null })).kind).toBe("keep");
  });

  it("renews inside the margin only with autoRenew", () => {
    const soon = { expires_at: new Date(NOW + 5 * 60_000).toISOString() };
    expect(decide(input(soon)).kind).toBe("renew");
    expect(decide(input(soon, { autoRenew: false })).kind).toBe("keep");
  });

  it("renew margin: a third of the ttl, at least two check intervals", () => {
    expect(renewMarginMs(HOUR, 60_000)).toBe(HOUR / 3);
    expect(renewMarginMs(60_000, 60_000)).toBe(120_000);
  });
});
