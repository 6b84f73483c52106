import { randomBytes, randomUUID } from "node:crypto";

/**
 * The Auth Manager's lease rules (EXTERNAL-APIS.md section 4) as plain state, so the express
 * router stays a thin HTTP skin and the rules are testable without sockets.
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

export interface Credential {
  id: string;
  accountId: string;
  state: CredentialState;
  accessToken: string;
  refreshToken: string;
  idToken: string;
  authUpdatedAt: string;
  utilizationPct: number;
}

export interface Lease {
  id: string;
  credentialId: string;
  machineId: string;
  agentId: string;
  state: LeaseState;
  issuedAt: string;
  expiresAt: string;
  rotationRecommended: boolean;
  replacementRequired: boolean;
  authRefreshRequired: boolean;
}

export interface TelemetryRecord {
  leaseId: string;
  body: Record<string, unknown>;
  receivedAt: string;
}

const FINAL_LEASE: LeaseState[] = ["released", "revoked", "expired"];

function fakeJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.${randomBytes(8).toString("base64url")}`;
}

export class LeaseBook {
  readonly credentials = new Map<string, Credential>();
  readonly leases = new Map<string, Lease>();
  readonly telemetry: TelemetryRecord[] = [];
  defaultTtlSeconds: number;
  readonly #now: () => number;

  constructor(opts: { defaultTtlSeconds?: number; now?: () => number } = {}) {
    this.defaultTtlSeconds = opts.defaultTtlSeconds ?? 3600;
    this.#now = opts.now ?? Date.now;
  }

  seedCredential(accountId = `acct-${randomBytes(3).toString("hex")}`): Credential {
    const id = `cred-${randomUUID().slice(0, 8)}`;
    const c: Credential = {
      id,
      accountId,
      state: "available",
      accessToken: "",
      refreshToken: "",
      idToken: "",
      authUpdatedAt: "",
      utilizationPct: 0,
    };
    this.refreshAuth(c);
    this.credentials.set(id, c);
    return c;
  }

  /** New token material, as when the broker refreshes a credential's OAuth tokens. */
  refreshAuth(c: Credential): void {
    const exp = Math.floor(this.#now() / 1000) + 3600;
    c.accessToken = fakeJwt({ sub: c.accountId, exp, n: randomBytes(4).toString("hex") });
    c.idToken = fakeJwt({ sub: c.accountId, exp, email: `${c.accountId}@example.test` });
    c.refreshToken = `rt_${randomBytes(12).toString("hex")}`;
    c.authUpdatedAt = new Date(this.#now()).toISOString();
  }

  /** Applies expiry lazily, as a real broker's clock would have. */
  tick(): void {
    const now = this.#now();
    for (const l of this.leases.values()) {
      if (!FINAL_LEASE.includes(l.state) && Date.parse(l.expiresAt) <= now) this.#end(l, "expired");
    }
  }

  acquire(machineId: string, agentId: string, ttl?: number): { reused: boolean; lease: Lease } | undefined {
    this.tick();
    for (const l of this.leases.values()) {
      const c = this.credentials.get(l.credentialId);
      if (
        l.machineId === machineId &&
        l.agentId === agentId &&
        l.state === "active" &&
        c?.state === "leased"
      ) {
        return { reused: true, lease: l };
      }
    }
    const cred = [...this.credentials.values()].find((c) => c.state === "available");
    if (!cred) return undefined;
    cred.state = "leased";
    const now = this.#now();
    const lease: Lease = {
      id: `lease-${randomUUID()}`,
      credentialId: cred.id,
      machineId,
      agentId,
      state: "active",
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + (ttl ?? this.defaultTtlSeconds) * 1000).toISOString(),
      rotationRecommended: false,
      replacementRequired: false,
      authRefreshRequired: false,
    };
    this.leases.set(lease.id, lease);
    return { reused: false, lease };
  }

  renew(l: Lease, ttl?: number): boolean {
    this.tick();
    if (l.state !== "active" && l.state !== "rotation_required") return false;
    l.expiresAt = new Date(this.#now() + (ttl ?? this.defaultTtlSeconds) * 1000).toISOString();
    return true;
  }

  release(l: Lease): void {
    this.#end(l, "released");
  }

  revoke(l: Lease): void {
    this.#end(l, "revoked");
  }

  expire(l: Lease): void {
    l.expiresAt = new Date(this.#now() - 1000).toISOString();
    this.tick();
  }

  /** Utilization >= 100 % exhausts the credential and revokes every lease on it. */
  exhaust(c: Credential): void {
    c.state = "exhausted";
    c.utilizationPct = 100;
    for (const l of this.leases.values()) {
      if (l.credentialId === c.id && !FINAL_LEASE.includes(l.state)) l.state = "revoked";
    }
  }

  view(l: Lease): Record<string, unknown> {
    this.tick();
    const c = this.credentials.get(l.credentialId);
    return {
      id: l.id,
      lease_id: l.id,
      credential_id: l.credentialId,
      machine_id: l.machineId,
      agent_id: l.agentId,
      state: l.state,
      issued_at: l.issuedAt,
      expires_at: l.expiresAt,
      credential_state: c?.state ?? "revoked",
      rotation_recommended: l.rotationRecommended,
      replacement_required: l.replacementRequired,
      auth_refresh_required: l.authRefreshRequired,
      credential_auth_updated_at: c?.authUpdatedAt ?? null,
      utilization_pct: c?.utilizationPct ?? null,
    };
  }

  authJson(l: Lease): Record<string, unknown> {
    const c = this.credentials.get(l.credentialId);
    if (!c) throw new Error(`lease ${l.id} has no credential`);
    return {
      auth_mode: "chatgpt",
      OPENAI_API_KEY: null,
      tokens: {
        id_token: c.idToken,
        access_token: c.accessToken,
        refresh_token: c.refreshToken,
        account_id: c.accountId,
      },
      last_refresh: c.authUpdatedAt,
    };
  }

  #end(l: Lease, state: LeaseState): void {
    if (FINAL_LEASE.includes(l.state)) return;
    l.state = state;
    const c = this.credentials.get(l.credentialId);
    if (c?.state === "leased") c.state = "available";
  }
}
