import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { captureFile, readCapture } from "../contract/captures.ts";

/**
 * What the real Codex Auth Manager answered (../shared/upstream-captures, recorded from
 * HalSysFin/codex-auth-manager c0e9465), and the calls that produced each answer. The recording
 * holds only the answers; the calls below are the ones its README and EXTERNAL-APIS.md section 4
 * describe, in the recorded order, so the same calls can be replayed against the mock broker.
 */
export const RECORDINGS_FILE = captureFile("auth-manager-exchanges.json");

export interface RecordedAnswer {
  status: number;
  body: unknown;
}

export type Recordings = Record<string, RecordedAnswer>;

/** The recordings, or why they are missing: CI fails on a missing file, a local run skips. */
export function loadRecordings(): { recordings: Recordings } | { missing: string } {
  if (!existsSync(RECORDINGS_FILE)) return { missing: `${RECORDINGS_FILE} not found` };
  const parsed = JSON.parse(readCapture("auth-manager-exchanges.json")) as { captures: Recordings };
  return { recordings: parsed.captures };
}

/** Machines and agents of the recorded session. */
export const MACHINE = "m-a";
export const AGENT = "openclaw:main";
export const OTHER_AGENT = "openclaw:other";
export const OTHER_MACHINE = "m-b";

export interface RecordedCall {
  case: string;
  method: "GET" | "POST";
  /** `{lease}` is the first lease, `{rotated}` the one rotate_ok gave. */
  path: string;
  body?: Record<string, unknown>;
  auth?: "ok" | "wrong" | "none";
}

const who = { machine_id: MACHINE, agent_id: AGENT };

/** The recorded session, call by call, in the order the answers were recorded. */
export const RECORDED_CALLS: RecordedCall[] = [
  {
    case: "acquire_new",
    method: "POST",
    path: "/api/leases/acquire",
    body: { ...who, reason: "gateway_start" },
  },
  {
    case: "acquire_reused",
    method: "POST",
    path: "/api/leases/acquire",
    body: { ...who, reason: "gateway_start" },
  },
  { case: "get_before_materialize", method: "GET", path: "/api/leases/{lease}" },
  { case: "materialize", method: "POST", path: "/api/leases/{lease}/materialize", body: who },
  { case: "get_after_materialize", method: "GET", path: "/api/leases/{lease}" },
  { case: "renew", method: "POST", path: "/api/leases/{lease}/renew", body: who },
  {
    case: "telemetry",
    method: "POST",
    path: "/api/leases/{lease}/telemetry",
    body: {
      ...who,
      captured_at: "{now}",
      requests_count: 1,
      tokens_in: 10,
      tokens_out: 5,
      status: "ok",
      last_success_at: "{now}",
    },
  },
  {
    case: "telemetry_missing_captured_at",
    method: "POST",
    path: "/api/leases/{lease}/telemetry",
    body: { ...who, status: "ok" },
  },
  {
    case: "acquire_other_agent_same_machine",
    method: "POST",
    path: "/api/leases/acquire",
    body: { machine_id: MACHINE, agent_id: OTHER_AGENT, reason: "gateway_start" },
  },
  {
    case: "materialize_not_owned",
    method: "POST",
    path: "/api/leases/{lease}/materialize",
    body: { machine_id: MACHINE, agent_id: OTHER_AGENT },
  },
  { case: "renew_unknown_lease", method: "POST", path: "/api/leases/lease_unknown/renew", body: who },
  { case: "get_unknown_lease", method: "GET", path: "/api/leases/lease_unknown" },
  {
    case: "acquire_wrong_token",
    method: "POST",
    path: "/api/leases/acquire",
    body: { ...who, reason: "gateway_start" },
    auth: "wrong",
  },
  {
    case: "acquire_no_token",
    method: "POST",
    path: "/api/leases/acquire",
    body: { ...who, reason: "gateway_start" },
    auth: "none",
  },
  {
    case: "rotate_invalid_reason",
    method: "POST",
    path: "/api/leases/rotate",
    body: { lease_id: "{lease}", ...who, reason: "manual_rotate" },
  },
  {
    case: "telemetry_95pct",
    method: "POST",
    path: "/api/leases/{lease}/telemetry",
    body: { ...who, captured_at: "{now}", utilization_pct: 95, status: "ok" },
  },
  { case: "get_rotation_required", method: "GET", path: "/api/leases/{lease}" },
  { case: "renew_rotation_required", method: "POST", path: "/api/leases/{lease}/renew", body: who },
  {
    case: "rotate_ok",
    method: "POST",
    path: "/api/leases/rotate",
    body: { lease_id: "{lease}", ...who, reason: "unhealthy_credential" },
  },
  {
    case: "acquire_denied_no_credentials",
    method: "POST",
    path: "/api/leases/acquire",
    body: { machine_id: OTHER_MACHINE, agent_id: AGENT, reason: "gateway_start" },
  },
  {
    case: "release",
    method: "POST",
    path: "/api/leases/{rotated}/release",
    body: { ...who, reason: "gateway_shutdown" },
  },
  {
    case: "release_again",
    method: "POST",
    path: "/api/leases/{rotated}/release",
    body: { ...who, reason: "gateway_shutdown" },
  },
  { case: "get_released", method: "GET", path: "/api/leases/{rotated}" },
];

/** A body is exact when it names no lease and no time: then the mock must match it byte for byte. */
export function isExact(body: unknown): boolean {
  const text = JSON.stringify(body);
  return !/lease_[A-Za-z0-9_-]{6,}|\d{4}-\d\d-\d\dT\d\d:/.test(text);
}

/** Fields whose values carry meaning (not ids or times): compared by value, the rest by type. */
const MEANINGFUL = new Set([
  "status",
  "reason",
  "state",
  "machine_id",
  "agent_id",
  "credential_state",
  "rotation_recommended",
  "replacement_required",
  "auth_refresh_required",
  "effective_rotation_policy",
  "rotation_reason",
  "delivery_count",
  "is_stale",
  "detail",
  "latest_utilization_pct",
  "utilization_pct",
  "auth_mode",
  "OPENAI_API_KEY",
]);

function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * Where `actual` differs from `expected` in shape: the same keys at every level, the same JSON
 * type for every value, the same value for the meaningful fields. One line per difference.
 */
export function shapeDiff(expected: unknown, actual: unknown, at = "body"): string[] {
  const ke = kind(expected);
  const ka = kind(actual);
  // A time the recorded session had set and the replay not (or the other way) is history, not
  // shape: the recording ran calls it does not hold (user-2 reported usage before its release).
  if (at.endsWith("_at") && ke !== ka && [ke, ka].every((k) => k === "null" || k === "string")) return [];
  if (ke !== ka) return [`${at}: expected ${ke}, got ${ka} (${JSON.stringify(actual)?.slice(0, 80)})`];
  if (ke !== "object") return [];
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  const out: string[] = [];
  for (const k of Object.keys(e)) if (!(k in a)) out.push(`${at}.${k}: missing`);
  for (const k of Object.keys(a)) if (!(k in e)) out.push(`${at}.${k}: not in the recording`);
  for (const k of Object.keys(e)) {
    if (!(k in a)) continue;
    if (MEANINGFUL.has(k) && kind(e[k]) !== "object" && e[k] !== a[k]) {
      out.push(`${at}.${k}: expected ${JSON.stringify(e[k])}, got ${JSON.stringify(a[k])}`);
    } else {
      out.push(...shapeDiff(e[k], a[k], `${at}.${k}`));
    }
  }
  return out;
}

export interface ReplayCall {
  method: string;
  path: string;
  body: Record<string, unknown> | undefined;
}

export interface ReplayServer {
  url: string;
  calls: ReplayCall[];
  close(): Promise<void>;
}

/**
 * A loopback server that answers each call with the next recorded answer `answer` picks for it
 * (undefined: 599, so an unexpected call fails loudly), and keeps every call it saw.
 */
export async function startReplayServer(
  answer: (call: ReplayCall) => RecordedAnswer | undefined,
): Promise<ReplayServer> {
  const calls: ReplayCall[] = [];
  const server: Server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const call: ReplayCall = {
        method: req.method ?? "GET",
        path: req.url ?? "/",
        body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
      };
      calls.push(call);
      const a = answer(call) ?? {
        status: 599,
        body: { detail: `no recorded answer for ${call.method} ${call.path}` },
      };
      res.writeHead(a.status, { "content-type": "application/json" });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** The route of a call, with lease ids folded: `POST /api/leases/{id}/renew`. */
export function routeOf(call: { method: string; path: string }): string {
  const p = call.path.replace(/^\/api\/leases\/(?!acquire$|rotate$)[^/]+/, "/api/leases/{id}");
  return `${call.method} ${p}`;
}
