import { randomBytes } from "node:crypto";

/**
 * The Auth Manager's lease rules as plain state, so the express router stays a thin HTTP skin.
 * They follow the real server (HalSysFin/codex-auth-manager c0e9465, app/lease_broker_store.py)
 * as recorded in ../shared/upstream-captures: one lease per machine, whatever the agent; the auth
 * timestamp in `lease.metadata`; rotation required from 90 % utilization; a lease unseen for
 * 180 s is reclaimed (expired).
 */
export const LEASE_STATES = ["active", "rotation_required", "released", "revoked", "expired"] as const;
export const CREDENTIAL_STATES = [
  "available",
  "leased",
  "exhausted",
  "cooldown",
  "revoked",
  "expired",
] as const;
export const ROTATION_REASONS = [
  "approaching_utilization_threshold",
  "low_quota_remaining",
  "unhealthy_credential",
  "expiry_approaching",
  "admin_requested_rotation",
] as const;

export type LeaseState = (typeof LEASE_STATES)[number];
export type CredentialState = (typeof CREDENTIAL_STATES)[number];

/** The real server's defaults (app/config.py). */
export const RECLAIM_AFTER_SECONDS = 180;
const STALE_AFTER_SECONDS = 60;
const ROTATION_THRESHOLD_PCT = 90;
const MAX_ASSIGNABLE_PCT = 99;
const EXHAUSTED_PCT = 100;
const RENEWAL_MIN_REMAINING_S = 300;

export interface Credential {
  id: string;
  accountId: string;
  label: string;
  state: CredentialState;
  accessToken: string;
  refreshToken: string;
  idToken: string;
  authUpdatedAt: string;
  utilizationPct: number | null;
  quotaRemaining: number | null;
  lastAssignedAt: string | null;
  lastTelemetryAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Lease {
  id: string;
  credentialId: string;
  machineId: string;
  agentId: string;
  state: LeaseState;
  issuedAt: string;
  expiresAt: string;
  renewedAt: string | null;
  revokedAt: string | null;
  releasedAt: string | null;
  rotationReason: string | null;
  replacementLeaseId: string | null;
  lastSeenAt: string;
  lastTelemetryAt: string | null;
  latestUtilizationPct: number | null;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  reason: string | null;
  metadata: Record<string, unknown> | null;
  updatedAt: string;
  /** Test-only overrides (`/_control/lease/leases/{id}/flags`), OR-ed into what GET derives. */
  rotationRecommended: boolean;
  replacementRequired: boolean;
  authRefreshRequired: boolean;
}

export interface TelemetryRecord {
  leaseId: string;
  body: Record<string, unknown>;
  receivedAt: string;
}

/** A refusal, as the real server words it (answered 409 with the lease, or null). */
export interface Refusal {
  refused: string;
  lease: Lease | null;
}

const LIVE: LeaseState[] = ["active", "rotation_required"];
const UNUSABLE_CREDENTIAL: CredentialState[] = ["exhausted", "revoked", "expired", "cooldown"];

function fakeJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.${randomBytes(8).toString("base64url")}`;
}

export class LeaseBook {
  readonly credentials = new Map<string, Credential>();
  readonly leases = new Map<string, Lease>();
  readonly telemetry: TelemetryRecord[] = [];
  defaultTtlSeconds: number;
  /** Seconds unseen after which a live lease is reclaimed (the real server's 180 s). */
  reclaimAfterSeconds: number;
  readonly #now: () => number;

  constructor(opts: { defaultTtlSeconds?: number; reclaimAfterSeconds?: number; now?: () => number } = {}) {
    this.defaultTtlSeconds = opts.defaultTtlSeconds ?? 3600;
    this.reclaimAfterSeconds = opts.reclaimAfterSeconds ?? RECLAIM_AFTER_SECONDS;
    this.#now = opts.now ?? Date.now;
  }

  #iso(offsetMs = 0): string {
    return new Date(this.#now() + offsetMs).toISOString();
  }

  seedCredential(accountId = `acct-${randomBytes(3).toString("hex")}`): Credential {
    const n = this.credentials.size + 1;
    const c: Credential = {
      id: `sub:${accountId}`,
      accountId,
      label: `acct${n}`,
      state: "available",
      accessToken: "",
      refreshToken: "",
      idToken: "",
      authUpdatedAt: "",
      utilizationPct: null,
      quotaRemaining: null,
      lastAssignedAt: null,
      lastTelemetryAt: null,
      createdAt: this.#iso(),
      updatedAt: this.#iso(),
    };
    this.refreshAuth(c);
    this.credentials.set(c.id, c);
    return c;
  }

  /** New token material, as when the broker refreshes a credential's OAuth tokens. */
  refreshAuth(c: Credential): void {
    const exp = Math.floor(this.#now() / 1000) + 3600;
    c.accessToken = fakeJwt({ sub: c.accountId, exp, n: randomBytes(4).toString("hex") });
    c.idToken = fakeJwt({ sub: c.accountId, exp, email: `${c.accountId}@example.test` });
    c.refreshToken = `rt_${randomBytes(12).toString("hex")}`;
    c.authUpdatedAt = this.#iso();
  }

  /** Expiry and reclaim, applied lazily as the real server does at each call. */
  tick(): void {
    const now = this.#now();
    for (const l of this.leases.values()) {
      if (!LIVE.includes(l.state)) continue;
      const unseen = (now - Date.parse(l.lastSeenAt)) / 1000;
      const why =
        Date.parse(l.expiresAt) <= now
          ? "lease_expired"
          : unseen >= this.reclaimAfterSeconds
            ? "lease_heartbeat_timeout"
            : undefined;
      if (why) this.#end(l, "expired", l.reason ?? why);
    }
  }

  #usable(c: Credential | undefined): boolean {
    return c !== undefined && !UNUSABLE_CREDENTIAL.includes(c.state);
  }

  #eligible(exclude?: string): Credential | undefined {
    return [...this.credentials.values()].find(
      (c) => c.id !== exclude && c.state === "available" && (c.utilizationPct ?? 0) < MAX_ASSIGNABLE_PCT,
    );
  }

  /** Marks a lease as seen (GET, acquire reuse, renew, materialize). */
  touch(l: Lease): void {
    if (!LIVE.includes(l.state)) return;
    l.lastSeenAt = this.#iso();
    l.updatedAt = l.lastSeenAt;
  }

  /** A machine's live lease is handed back whatever agent asks: the real server's rule. */
  acquire(
    machineId: string,
    agentId: string,
    ttl?: number,
    reason: string | null = null,
  ): { reused: boolean; lease: Lease } | undefined {
    this.tick();
    for (const l of this.leases.values()) {
      if (
        l.machineId === machineId &&
        LIVE.includes(l.state) &&
        this.#usable(this.credentials.get(l.credentialId))
      ) {
        this.touch(l);
        return { reused: true, lease: l };
      }
    }
    const cred = this.#eligible();
    return cred ? { reused: false, lease: this.#issue(cred, machineId, agentId, ttl, reason) } : undefined;
  }

  #issue(
    cred: Credential,
    machineId: string,
    agentId: string,
    ttl: number | undefined,
    reason: string | null,
  ) {
    const now = this.#iso();
    cred.state = "leased";
    cred.lastAssignedAt = now;
    const lease: Lease = {
      id: `lease_${randomBytes(12).toString("base64url")}`,
      credentialId: cred.id,
      machineId,
      agentId,
      state: "active",
      issuedAt: now,
      expiresAt: this.#iso(Math.max(60, ttl ?? this.defaultTtlSeconds) * 1000),
      renewedAt: null,
      revokedAt: null,
      releasedAt: null,
      rotationReason: null,
      replacementLeaseId: null,
      lastSeenAt: now,
      lastTelemetryAt: null,
      latestUtilizationPct: cred.utilizationPct,
      lastSuccessAt: null,
      lastErrorAt: null,
      reason,
      metadata: null,
      updatedAt: now,
      rotationRecommended: false,
      replacementRequired: false,
      authRefreshRequired: false,
    };
    this.leases.set(lease.id, lease);
    return lease;
  }

  renew(l: Lease): Refusal | undefined {
    this.tick();
    if (l.state !== "active") return { refused: `lease_not_renewable:${l.state}`, lease: l };
    if (!this.#usable(this.credentials.get(l.credentialId)))
      return { refused: "credential_not_usable", lease: l };
    l.renewedAt = this.#iso();
    // The real server renews for its default ttl, whatever the lease was acquired with.
    l.expiresAt = this.#iso(this.defaultTtlSeconds * 1000);
    this.touch(l);
    return undefined;
  }

  release(l: Lease, reason?: string): Refusal | undefined {
    if (!LIVE.includes(l.state)) return { refused: `lease_not_releasable:${l.state}`, lease: l };
    l.releasedAt = this.#iso();
    this.#end(l, "released", reason ?? l.reason);
    return undefined;
  }

  /** A new lease on another credential; the old one is released, naming its replacement. */
  rotate(l: Lease, reason: string): Refusal | Lease {
    this.tick();
    if (!LIVE.includes(l.state)) return { refused: `lease_not_rotatable:${l.state}`, lease: l };
    const cred = this.#eligible(l.credentialId);
    if (!cred) return { refused: "no_eligible_credentials_available", lease: l };
    const next = this.#issue(cred, l.machineId, l.agentId, undefined, reason);
    next.rotationReason = reason;
    l.rotationReason = reason;
    l.replacementLeaseId = next.id;
    l.releasedAt = this.#iso();
    this.#end(l, "released", reason);
    return next;
  }

  materialize(l: Lease): Refusal | undefined {
    this.tick();
    if (!LIVE.includes(l.state)) return { refused: `lease_not_materializable:${l.state}`, lease: l };
    const c = this.credentials.get(l.credentialId);
    if (!this.#usable(c)) return { refused: "credential_not_usable", lease: l };
    const now = this.#iso();
    const m = l.metadata ?? {};
    l.metadata = {
      delivery_count: Number(m.delivery_count ?? 0) + 1,
      last_materialized_at: now,
      first_materialized_at: m.first_materialized_at ?? now,
      credential_auth_updated_at: c?.authUpdatedAt ?? null,
    };
    l.authRefreshRequired = false;
    this.touch(l);
    return undefined;
  }

  /** Usage report: 90 % asks for rotation, 100 % exhausts the credential and revokes its leases. */
  report(l: Lease, body: Record<string, unknown>): void {
    const captured = String(body.captured_at);
    const util = typeof body.utilization_pct === "number" ? body.utilization_pct : null;
    this.telemetry.push({ leaseId: l.id, body, receivedAt: this.#iso() });
    l.lastSeenAt = captured;
    l.lastTelemetryAt = captured;
    l.latestUtilizationPct = util;
    if (typeof body.last_success_at === "string") l.lastSuccessAt = body.last_success_at;
    if (typeof body.last_error_at === "string") l.lastErrorAt = body.last_error_at;
    l.updatedAt = this.#iso();
    const c = this.credentials.get(l.credentialId);
    if (!c) return;
    c.utilizationPct = util;
    c.lastTelemetryAt = captured;
    c.updatedAt = this.#iso();
    if (util !== null && util >= EXHAUSTED_PCT) this.exhaust(c);
    else if (util !== null && util >= ROTATION_THRESHOLD_PCT && l.state === "active") {
      l.state = "rotation_required";
      l.reason ??= "approaching_utilization_threshold";
    }
  }

  revoke(l: Lease): void {
    l.revokedAt = this.#iso();
    this.#end(l, "revoked", l.reason);
  }

  expire(l: Lease): void {
    l.expiresAt = this.#iso(-1000);
    this.tick();
  }

  exhaust(c: Credential): void {
    c.state = "exhausted";
    c.utilizationPct = 100;
    for (const l of this.leases.values()) {
      if (l.credentialId === c.id && LIVE.includes(l.state)) {
        l.state = "revoked";
        l.revokedAt = this.#iso();
        l.reason = "credential_exhausted";
      }
    }
  }

  #end(l: Lease, state: LeaseState, reason: string | null): void {
    if (!LIVE.includes(l.state)) return;
    l.state = state;
    l.reason = reason;
    l.updatedAt = this.#iso();
    const c = this.credentials.get(l.credentialId);
    const stillLeased = [...this.leases.values()].some(
      (o) => o.credentialId === l.credentialId && LIVE.includes(o.state),
    );
    if (c?.state === "leased" && !stillLeased) c.state = "available";
  }

  secondsSinceSeen(l: Lease): number {
    return Math.max(0, Math.floor((this.#now() - Date.parse(l.lastSeenAt)) / 1000));
  }

  isStale(l: Lease): boolean {
    return LIVE.includes(l.state) && this.secondsSinceSeen(l) >= STALE_AFTER_SECONDS;
  }

  /** `rotation_recommended`, `replacement_required`, `auth_refresh_required` as GET derives them. */
  flags(l: Lease): { recommended: boolean; required: boolean; authRefresh: boolean } {
    const c = this.credentials.get(l.credentialId);
    const remaining = (Date.parse(l.expiresAt) - this.#now()) / 1000;
    const recommended =
      l.state === "rotation_required" ||
      (l.latestUtilizationPct ?? 0) >= ROTATION_THRESHOLD_PCT ||
      remaining <= RENEWAL_MIN_REMAINING_S;
    const required =
      ["exhausted", "revoked", "expired"].includes(c?.state ?? "revoked") ||
      ["rotation_required", "revoked", "expired"].includes(l.state);
    const authRefresh =
      Boolean(c?.authUpdatedAt) && c?.authUpdatedAt !== l.metadata?.credential_auth_updated_at;
    return {
      recommended: recommended || l.rotationRecommended,
      required: required || l.replacementRequired,
      authRefresh: authRefresh || l.authRefreshRequired,
    };
  }
}
