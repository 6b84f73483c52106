import { errorFactory, isBundleError } from "@openclaw-bundle/shared";
import { z } from "zod";

const leaseError = errorFactory("LEASE_ERR");
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Broker answers larger than this are refused unread (an auth_json is a few KB). */
export const MAX_RESPONSE_BYTES = 1_048_576;

const leaseView = z
  .object({
    id: z.string().min(1).optional(),
    lease_id: z.string().min(1).optional(),
    state: z.string().min(1),
    expires_at: z.string().nullish(),
    credential_state: z.string().nullish(),
    rotation_recommended: z.boolean().nullish(),
    replacement_required: z.boolean().nullish(),
    auth_refresh_required: z.boolean().nullish(),
    credential_auth_updated_at: z.string().nullish(),
    machine_id: z.string().nullish(),
    agent_id: z.string().nullish(),
    // The broker's answers to POST calls carry the auth timestamp here, not at the top level.
    metadata: z.object({ credential_auth_updated_at: z.string().nullish() }).loose().nullish(),
  })
  .loose()
  .refine((l) => l.id ?? l.lease_id, { message: "lease has no id" })
  .transform((l) => ({ ...l, id: (l.id ?? l.lease_id) as string }));

export type LeaseView = z.output<typeof leaseView>;

const leaseAnswer = z.object({ status: z.string(), reason: z.string().nullish(), lease: leaseView }).loose();
type LeaseAnswer = z.output<typeof leaseAnswer>;

const authJson = z
  .object({
    auth_mode: z.string().nullish(),
    OPENAI_API_KEY: z.string().nullish(),
    tokens: z
      .object({
        id_token: z.string().nullish(),
        access_token: z.string().min(1),
        refresh_token: z.string().nullish(),
        account_id: z.string().nullish(),
      })
      .loose(),
    last_refresh: z.string().nullish(),
  })
  .loose();
export type CodexAuthJson = z.output<typeof authJson>;

const materialAnswer = leaseAnswer.extend({
  credential_material: z.object({ auth_json: authJson }).loose(),
});

export interface Identity {
  machineId: string;
  agentId: string;
}

interface TelemetryBody {
  captured_at: string;
  requests_count?: number;
  tokens_in?: number;
  tokens_out?: number;
  status: "ok" | "error";
  last_success_at?: string;
  last_error_at?: string;
}

interface BrokerClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * The Auth Manager's lease API (EXTERNAL-APIS.md section 4). Every answer is size-bounded and
 * schema-checked; failures become LEASE_ERR_* errors carrying the HTTP status, never the token.
 */
export class BrokerClient {
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: BrokerClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, "");
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#fetch = opts.fetch ?? fetch;
  }

  acquire(who: Identity, ttlSeconds?: number): Promise<LeaseAnswer> {
    const body = {
      machine_id: who.machineId,
      agent_id: who.agentId,
      reason: "gateway_start",
      ...(ttlSeconds ? { requested_ttl_seconds: ttlSeconds } : {}),
    };
    return this.#call("POST", "/api/leases/acquire", body, leaseAnswer);
  }

  get(leaseId: string): Promise<LeaseView> {
    return this.#call("GET", `/api/leases/${encodeURIComponent(leaseId)}`, undefined, leaseView);
  }

  renew(leaseId: string, who: Identity): Promise<LeaseAnswer> {
    return this.#call("POST", `/api/leases/${encodeURIComponent(leaseId)}/renew`, ids(who), leaseAnswer);
  }

  release(leaseId: string, who: Identity, reason = "gateway_shutdown"): Promise<LeaseAnswer> {
    return this.#call(
      "POST",
      `/api/leases/${encodeURIComponent(leaseId)}/release`,
      { ...ids(who), reason },
      leaseAnswer,
    );
  }

  rotate(leaseId: string, who: Identity, reason: string): Promise<LeaseAnswer> {
    return this.#call("POST", "/api/leases/rotate", { lease_id: leaseId, ...ids(who), reason }, leaseAnswer);
  }

  materialize(leaseId: string, who: Identity): Promise<LeaseAnswer & { authJson: CodexAuthJson }> {
    return this.#call(
      "POST",
      `/api/leases/${encodeURIComponent(leaseId)}/materialize`,
      ids(who),
      materialAnswer,
    ).then((a) => ({
      ...a,
      authJson: a.credential_material.auth_json,
    }));
  }

  telemetry(leaseId: string, who: Identity, body: TelemetryBody): Promise<LeaseAnswer> {
    return this.#call(
      "POST",
      `/api/leases/${encodeURIComponent(leaseId)}/telemetry`,
      { ...ids(who), ...body },
      leaseAnswer,
    );
  }

  async #call<T extends z.ZodType>(
    method: string,
    path: string,
    body: unknown,
    schema: T,
  ): Promise<z.output<T>> {
    const where = `${method} ${path.replace(/\/api\/leases\/[^/]+/, "/api/leases/{id}")}`;
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          accept: "application/json",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw leaseError("UNREACHABLE", `${where}: broker unreachable (${(err as Error).message})`, {
        cause: err,
      });
    }
    const text = await readBounded(res, where);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw leaseError("BAD_RESPONSE", `${where}: HTTP ${res.status} with a body that is not JSON`, {
        details: { status: res.status },
      });
    }
    if (!res.ok) {
      const j = (json ?? {}) as { reason?: unknown; detail?: unknown };
      const why =
        typeof j.reason === "string" ? j.reason : typeof j.detail === "string" ? j.detail : res.statusText;
      const code =
        res.status === 409
          ? "DENIED"
          : res.status === 404
            ? "NOT_FOUND"
            : res.status === 401 || res.status === 403
              ? "UNAUTHORIZED"
              : "HTTP";
      throw leaseError(code, `${where}: HTTP ${res.status} ${why.slice(0, 200)}`, {
        details: { status: res.status, reason: why.slice(0, 200) },
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw leaseError(
        "BAD_RESPONSE",
        `${where}: unexpected answer (${first?.path.join(".") || "body"}: ${first?.message})`,
      );
    }
    return parsed.data;
  }
}

function ids(who: Identity) {
  return { machine_id: who.machineId, agent_id: who.agentId };
}

async function readBounded(res: Response, where: string): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_RESPONSE_BYTES)
    throw leaseError("BAD_RESPONSE", `${where}: answer of ${declared} bytes exceeds ${MAX_RESPONSE_BYTES}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > MAX_RESPONSE_BYTES)
    throw leaseError("BAD_RESPONSE", `${where}: answer of ${buf.length} bytes exceeds ${MAX_RESPONSE_BYTES}`);
  return buf.toString("utf8");
}

export function isDenied(err: unknown): boolean {
  return isBundleError(err, "LEASE_ERR_DENIED");
}

export function isNotFound(err: unknown): boolean {
  return isBundleError(err, "LEASE_ERR_NOT_FOUND");
}

/** The broker's `reason` (or `detail`) of a refused call, e.g. `lease_not_found_or_not_owned`. */
export function refusalReason(err: unknown): string | undefined {
  if (!isBundleError(err)) return undefined;
  const r = err.details?.reason;
  return typeof r === "string" ? r : undefined;
}

/**
 * When the credential's auth was last updated, as the broker saw it: GET gives it at the top
 * level, materialize/renew/telemetry inside `lease.metadata` (recorded from the real server).
 */
export function authUpdatedAt(view: LeaseView): string | undefined {
  return view.metadata?.credential_auth_updated_at ?? view.credential_auth_updated_at ?? undefined;
}
