import type { Credential, Lease, LeaseBook } from "./lease-state.ts";

/**
 * The JSON the real Auth Manager answers, field for field and in its order (recorded in
 * ../shared/upstream-captures/auth-manager-exchanges.json): a lease row for POST answers, a
 * status view for GET, and the credential row that telemetry and release add.
 */
export function leaseRow(book: LeaseBook, l: Lease): Record<string, unknown> {
  return {
    id: l.id,
    credential_id: l.credentialId,
    machine_id: l.machineId,
    agent_id: l.agentId,
    state: l.state,
    issued_at: l.issuedAt,
    expires_at: l.expiresAt,
    renewed_at: l.renewedAt,
    revoked_at: l.revokedAt,
    released_at: l.releasedAt,
    rotation_reason: l.rotationReason,
    replacement_lease_id: l.replacementLeaseId,
    last_seen_at: l.lastSeenAt,
    last_telemetry_at: l.lastTelemetryAt,
    latest_utilization_pct: l.latestUtilizationPct,
    latest_quota_remaining: null,
    last_success_at: l.lastSuccessAt,
    last_error_at: l.lastErrorAt,
    reason: l.reason,
    // The auth timestamp lives here (credential_auth_updated_at), not at the top level.
    metadata: l.metadata,
    created_at: l.issuedAt,
    updated_at: l.updatedAt,
    seconds_since_seen: book.secondsSinceSeen(l),
    is_stale: book.isStale(l),
  };
}

export function leaseStatus(book: LeaseBook, l: Lease): Record<string, unknown> {
  const c = book.credentials.get(l.credentialId);
  const f = book.flags(l);
  return {
    lease_id: l.id,
    credential_id: l.credentialId,
    state: l.state,
    issued_at: l.issuedAt,
    expires_at: l.expiresAt,
    renewed_at: l.renewedAt,
    machine_id: l.machineId,
    agent_id: l.agentId,
    latest_telemetry_at: l.lastTelemetryAt,
    latest_utilization_pct: l.latestUtilizationPct,
    latest_quota_remaining: null,
    last_success_at: l.lastSuccessAt,
    last_error_at: l.lastErrorAt,
    rotation_recommended: f.recommended,
    replacement_required: f.required,
    reason: l.reason,
    credential_state: c?.state ?? "revoked",
    credential_auth_updated_at: c?.authUpdatedAt || null,
    auth_refresh_required: f.authRefresh,
    effective_rotation_policy: "replacement_required_only",
    last_seen_at: l.lastSeenAt,
    seconds_since_seen: book.secondsSinceSeen(l),
    is_stale: book.isStale(l),
  };
}

function weeklyReset(now: number): string {
  const d = new Date(now);
  d.setUTCHours(24, 0, 0, 0);
  return d.toISOString();
}

export function credentialRow(c: Credential): Record<string, unknown> {
  const util = c.utilizationPct;
  return {
    id: c.id,
    label: c.label,
    state: c.state,
    utilization_pct: util,
    quota_remaining: c.quotaRemaining,
    health_score: util === null ? 100 : Math.max(0, Math.round(100 - util * 0.6)),
    weekly_reset_at: weeklyReset(Date.parse(c.createdAt)),
    last_assigned_at: c.lastAssignedAt,
    exhausted_at: null,
    revoked_at: null,
    cooldown_until: null,
    metadata: {
      email: `${c.accountId}@example.test`,
      label: c.label,
      account_type: "ChatGPT Plus",
      display_label: c.label,
      auth_updated_at: c.authUpdatedAt,
    },
    reset_confirmation_due_after: null,
    reset_confirmed_at: null,
    last_telemetry_at: c.lastTelemetryAt,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    admin_assignment_disabled: false,
  };
}

/** `credential_material` of a materialize answer; `auth_json` is Codex's ~/.codex/auth.json. */
export function credentialMaterial(c: Credential): Record<string, unknown> {
  return {
    label: c.label,
    account_key: c.id,
    email: `${c.accountId}@example.test`,
    name: c.accountId,
    provider_account_id: null,
    auth_json: {
      tokens: {
        id_token: c.idToken,
        account_id: c.accountId,
        access_token: c.accessToken,
        refresh_token: c.refreshToken,
      },
      auth_mode: "chatgpt",
      last_refresh: c.authUpdatedAt,
      OPENAI_API_KEY: null,
    },
    // The real server sends OpenClaw-specific material here; the recording replaced it by this text.
    openclaw: "<openclaw-specific material omitted>",
  };
}
