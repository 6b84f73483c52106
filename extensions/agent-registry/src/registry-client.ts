import { BundleError, errorFactory, errorMessage } from "@openclaw-bundle/shared";
import { z } from "zod";
import { MAX_CAPABILITIES } from "./config-schema.ts";

/**
 * The Agent Registry HTTP client (EXTERNAL-APIS.md section 2). Stateless and pure apart from
 * `fetch`: heartbeat timers and re-registration live with the caller. It avoids the public
 * client's bugs on purpose: search sends `q=` (never `query=`), capabilities repeat as separate
 * params, and every path is the exact one FastAPI routes (trailing slash only on the collection)
 * so no 307 redirect is ever needed.
 */

const registryError = errorFactory("REGISTRY_ERR");
const DEFAULT_REGISTRY_TIMEOUT_MS = 10_000;
const DEFAULT_SEARCH_LIMIT = 20;
const MAX_SEARCH_LIMIT = 50;
/** Answers are small JSON documents; anything larger is a broken or hostile server. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_DETAIL_CHARS = 200;

export interface RegisterBody {
  hostname: string;
  installation_id?: string;
  pilot_node_id?: number;
  pilot_address?: string;
  display_name?: string;
  description?: string;
  capabilities?: string[];
}

interface RegistryClientOptions {
  baseUrl: string;
  apiKey?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const text = (max: number) => z.string().max(max);
const stamp = text(64).nullish();
// Unknown fields are dropped, not refused: a newer registry may add some, and older gateways must
// keep working. Every string and list is bounded.
const agentRecord = z.object({
  id: text(256).min(1),
  hostname: text(253).min(1),
  installation_id: text(256).nullish(),
  pilot_node_id: z.number().int().min(0).max(0xffffffff).nullish(),
  pilot_address: text(64).nullish(),
  display_name: text(500).nullish(),
  description: text(10_000).nullish(),
  capabilities: z.array(text(256)).max(500).nullish(),
  last_seen: stamp,
  created_at: stamp,
  updated_at: stamp,
});
const agentList = z.object({ agents: z.array(agentRecord).max(10_000) });
const searchAnswer = z.object({
  agents: z.array(agentRecord).max(10_000),
  total: z.number().int().min(0),
});
const relayMessage = z.object({
  message_id: text(256).min(1),
  from_installation_id: text(256),
  from_hostname: text(253),
  to_installation_id: text(256),
  body: text(MAX_RESPONSE_BYTES),
  created_at: text(64),
});
const trustRequest = z.object({
  from_id: text(256),
  to_id: text(256),
  introduction: text(10_000),
  created_at: text(64).optional(),
});
export type AgentRecord = z.infer<typeof agentRecord>;
export type RelayMessage = z.infer<typeof relayMessage>;
export type TrustRequest = z.infer<typeof trustRequest>;

const sendAnswer = z.object({ ok: z.boolean(), message_id: text(256) });
const inboxAnswer = z.object({ messages: z.array(relayMessage).max(10_000) });
const ackAnswer = z.object({ acked: z.number().int().min(0) });
const statusAnswer = z.object({ status: text(64) });
const pendingAnswer = z.object({ pending: z.array(trustRequest).max(10_000) });
const trustedAnswer = z.object({ trusted: z.array(text(256)).max(100_000) });

const seg = encodeURIComponent;

export class RegistryClient {
  readonly #base: string;
  readonly #key: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: RegistryClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, "");
    this.#key = opts.apiKey || undefined;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
    this.#fetch = opts.fetch ?? fetch;
  }

  async register(body: RegisterBody): Promise<AgentRecord> {
    return this.#call("POST", "/api/v1/agents/", agentRecord, body);
  }

  /** A 404 means the registry already forgot the agent, which is what deregistering wants. */
  async deregister(id: string): Promise<void> {
    await unless404(this.#call("DELETE", `/api/v1/agents/${seg(id)}`, null));
  }

  /** A 404 gets its own code: the caller re-registers instead of counting a plain failure. */
  async heartbeat(id: string): Promise<void> {
    const path = `/api/v1/agents/${seg(id)}/heartbeat`;
    if ((await unless404(this.#call("POST", path, null).then(() => true))) === undefined)
      throw registryError("NOT_FOUND", `the registry does not know agent ${id} (POST ${path})`, {
        details: { status: 404 },
      });
  }

  async getAgent(id: string): Promise<AgentRecord | undefined> {
    return unless404(this.#call("GET", `/api/v1/agents/${seg(id)}`, agentRecord));
  }

  async listAgents(opts: { pilotNodeId?: number } = {}): Promise<AgentRecord[]> {
    const q = opts.pilotNodeId === undefined ? "" : `?pilot_node_id=${Math.trunc(opts.pilotNodeId)}`;
    return (await this.#call("GET", `/api/v1/agents/${q}`, agentList)).agents;
  }

  async search(opts: SearchOptions): Promise<{ agents: AgentRecord[]; total: number }> {
    const params = new URLSearchParams();
    const q = opts.q?.trim();
    if (q) params.append("q", q);
    const caps = [...new Set((opts.capabilities ?? []).map((c) => c.trim()).filter(Boolean))];
    for (const c of caps.slice(0, MAX_CAPABILITIES)) params.append("capabilities", c);
    params.append("limit", String(clampLimit(opts.limit)));
    const r = await this.#call("GET", `/api/v1/agents/search?${params}`, searchAnswer);
    return { agents: r.agents, total: r.total };
  }

  /** Unknown and offline hostnames both answer 404, which is "not found" to the caller. */
  async byHostname(hostname: string): Promise<AgentRecord | undefined> {
    return unless404(this.#call("GET", `/api/v1/agents/by-hostname/${seg(hostname)}`, agentRecord));
  }

  async relaySend(m: RelaySend): Promise<{ ok: boolean; message_id: string }> {
    const r = await this.#call("POST", "/api/v1/agents/messages/send", sendAnswer, m);
    return { ok: r.ok, message_id: r.message_id };
  }

  async relayInbox(installationId: string): Promise<RelayMessage[]> {
    const path = `/api/v1/agents/messages/inbox/${seg(installationId)}`;
    return (await this.#call("GET", path, inboxAnswer)).messages;
  }

  async relayAck(installationId: string, messageIds: string[]): Promise<number> {
    const body = { installation_id: installationId, message_ids: messageIds };
    return (await this.#call("POST", "/api/v1/agents/messages/ack", ackAnswer, body)).acked;
  }

  async trustRequest(fromId: string, toId: string, introduction: string): Promise<{ status: string }> {
    const body = { from_id: fromId, to_id: toId, introduction };
    return this.#call("POST", "/api/v1/trust/request", statusAnswer, body);
  }

  async trustPending(installationId: string): Promise<TrustRequest[]> {
    return (await this.#call("GET", `/api/v1/trust/pending/${seg(installationId)}`, pendingAnswer)).pending;
  }

  async trustApprove(fromId: string, toId: string): Promise<{ status: string }> {
    return this.#trust("approve", fromId, toId);
  }

  async trustReject(fromId: string, toId: string): Promise<{ status: string }> {
    return this.#trust("reject", fromId, toId);
  }

  async trustBlock(fromId: string, toId: string): Promise<{ status: string }> {
    return this.#trust("block", fromId, toId);
  }

  async trustRevoke(fromId: string, toId: string): Promise<{ status: string }> {
    return this.#trust("revoke", fromId, toId);
  }

  async trusted(installationId: string): Promise<string[]> {
    return (await this.#call("GET", `/api/v1/trust/trusted/${seg(installationId)}`, trustedAnswer)).trusted;
  }

  #trust(verb: "approve" | "reject" | "block" | "revoke", from: string, to: string) {
    return this.#call("POST", `/api/v1/trust/${verb}`, statusAnswer, { from_id: from, to_id: to });
  }

  /** One request; `schema` null means the answer carries nothing the caller needs. */
  #call<T>(method: string, path: string, schema: z.ZodType<T>, body?: unknown): Promise<T>;
  #call(method: string, path: string, schema: null, body?: unknown): Promise<void>;
  async #call<T>(method: string, path: string, schema: z.ZodType<T> | null, body?: unknown) {
    const where = `${method} ${path.split("?")[0]}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#key) headers["x-registry-key"] = this.#key;
    if (body !== undefined) headers["content-type"] = "application/json";
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let res: Response;
    let raw: string;
    try {
      res = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: "follow",
        signal,
      });
      raw = await readCapped(res, where);
    } catch (err) {
      if (err instanceof BundleError) throw err;
      const why = signal.aborted ? `timed out after ${this.#timeoutMs} ms` : errorMessage(err);
      throw registryError("UNREACHABLE", `${where}: the registry at ${this.#base} is unreachable (${why})`, {
        cause: err,
      });
    }
    if (res.status === 401 || res.status === 403) {
      const why = this.#key
        ? "the registry key was refused"
        : "the registry requires a key (none configured)";
      throw registryError("AUTH", `${where}: ${res.status}, ${why}`, { details: { status: res.status } });
    }
    if (!res.ok) {
      const detail = this.#scrub(fastApiDetail(raw));
      throw registryError("HTTP", `${where} answered ${res.status}${detail ? `: ${detail}` : ""}`, {
        details: { status: res.status, ...(detail ? { detail } : {}) },
      });
    }
    if (schema === null) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw registryError("BAD_RESPONSE", `${where} answered ${res.status} with a body that is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue ? ` (${issue.path.join(".") || "body"}: ${issue.message})` : "";
      throw registryError("BAD_RESPONSE", `${where} answered with an unexpected body${at}`);
    }
    return parsed.data;
  }

  /** A server echoing the key back in its error detail must not put it in our messages. */
  #scrub(s: string): string {
    return this.#key ? s.split(this.#key).join("[redacted]") : s;
  }
}

interface SearchOptions {
  q?: string;
  capabilities?: string[];
  limit?: number;
}

type RelaySend = Omit<RelayMessage, "message_id" | "created_at">;

/** For lookups where 404 means "no such agent" rather than a failure. */
async function unless404<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isRegistryError(err, "HTTP") && err.details?.status === 404) return undefined;
    throw err;
  }
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_SEARCH_LIMIT;
  return Math.min(MAX_SEARCH_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** Reads the body, refusing more than MAX_RESPONSE_BYTES instead of buffering whatever arrives. */
async function readCapped(res: Response, where: string): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw registryError("BAD_RESPONSE", `${where} answered with more than ${MAX_RESPONSE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** FastAPI's `detail`: a string, or for 422 a list of `{ loc, msg }`; else the raw text. */
function fastApiDetail(raw: string): string {
  let detail: unknown;
  try {
    detail = (JSON.parse(raw) as { detail?: unknown })?.detail;
  } catch {
    detail = raw.trim();
  }
  if (Array.isArray(detail)) detail = (detail[0] as { msg?: unknown } | undefined)?.msg;
  if (detail !== undefined && typeof detail !== "string") detail = JSON.stringify(detail);
  const s = typeof detail === "string" ? detail.replace(/\s+/g, " ").trim() : "";
  return s.length > MAX_DETAIL_CHARS ? `${s.slice(0, MAX_DETAIL_CHARS - 1)}…` : s;
}

export function isRegistryError(err: unknown, code?: string): err is BundleError {
  if (!(err instanceof BundleError) || !err.code.startsWith("REGISTRY_ERR_")) return false;
  return (
    code === undefined || err.code === (code.startsWith("REGISTRY_ERR_") ? code : `REGISTRY_ERR_${code}`)
  );
}
