import type { LeaseView } from "./broker-client.ts";

/**
 * What the lease service does after looking at its lease (EXTERNAL-APIS.md section 4, client
 * policy): a sticky lease is kept, renewed before expiry, and replaced only when unusable.
 */
type LeaseAction =
  | { kind: "keep" }
  | { kind: "renew" }
  | { kind: "reacquire"; why: string }
  | { kind: "rotate"; reason: RotationReason; why: string }
  | { kind: "rematerialize"; why: string };

type RotationReason = "unhealthy_credential" | "approaching_utilization_threshold";

const UNUSABLE_LEASE_STATES = ["released", "revoked", "expired"];
const UNUSABLE_CREDENTIAL_STATES = ["exhausted", "revoked", "expired"];

export interface PolicyInput {
  /** The lease as the broker sees it now; undefined when the broker answered 404. */
  lease: LeaseView | undefined;
  now: number;
  autoRenew: boolean;
  autoRotate: boolean;
  rotationPolicy: "replacement_required_only" | "recommended_or_required";
  /** Renew when less than this much time is left. */
  renewMarginMs: number;
  /** `credential_auth_updated_at` of the auth last written to disk. */
  materializedAuthAt: string | undefined;
}

export function decide(p: PolicyInput): LeaseAction {
  const l = p.lease;
  if (!l) return { kind: "reacquire", why: "the broker no longer knows the lease (404)" };
  if (UNUSABLE_LEASE_STATES.includes(l.state)) return { kind: "reacquire", why: `lease ${l.state}` };
  if (l.credential_state && UNUSABLE_CREDENTIAL_STATES.includes(l.credential_state)) {
    return { kind: "reacquire", why: `credential ${l.credential_state}` };
  }
  const expiresAt = l.expires_at ? Date.parse(l.expires_at) : Number.NaN;
  if (Number.isFinite(expiresAt) && expiresAt <= p.now) return { kind: "reacquire", why: "lease expired" };
  // Replacement the broker requires is not voluntary: it happens whatever autoRotate says.
  if (l.state === "rotation_required" || l.replacement_required) {
    return { kind: "rotate", reason: "unhealthy_credential", why: "the broker requires a replacement" };
  }
  if (l.rotation_recommended && p.autoRotate && p.rotationPolicy === "recommended_or_required") {
    return {
      kind: "rotate",
      reason: "approaching_utilization_threshold",
      why: "the broker recommends rotation",
    };
  }
  // Once per credential update: the timestamp decides when the broker gives one, so a lease whose
  // auth is on disk is not rewritten at every check (that would undo tokens Codex refreshed).
  const brokerAuthAt = l.credential_auth_updated_at;
  if (brokerAuthAt ? brokerAuthAt !== p.materializedAuthAt : l.auth_refresh_required) {
    return { kind: "rematerialize", why: "the credential's auth was refreshed" };
  }
  if (p.autoRenew && Number.isFinite(expiresAt) && expiresAt - p.now <= p.renewMarginMs)
    return { kind: "renew" };
  return { kind: "keep" };
}

/** Renew with a third of the lease left, but never later than two check intervals before expiry. */
export function renewMarginMs(ttlMs: number, checkIntervalMs: number): number {
  return Math.max(Math.floor(ttlMs / 3), 2 * checkIntervalMs);
}
