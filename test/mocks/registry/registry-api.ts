import express, { type Request, type RequestHandler, type Response } from "express";
import { z } from "zod";
import { RegistryState } from "./registry-state.ts";

/**
 * The Agent Registry API of EXTERNAL-APIS.md section 2, as FastAPI serves it, with test-only
 * control routes under `/_control/registry`.
 *
 * FastAPI behaviours copied on purpose, because clients have tripped over them:
 * - routing first, as Starlette does: a path no route declares is answered 307 to the same path
 *   with the trailing slash added or removed when that one exists (absolute `Location`, query
 *   kept), a declared path with the wrong method 405, anything else 404 — before the key check;
 * - errors `{ "detail": "..." }`, validation errors 422 `{ "detail": [{ loc, msg, type, input }] }`
 *   with pydantic's types and messages; unknown body fields and query params are ignored (so a
 *   client sending `query=` instead of `q=` silently searches for everything).
 *
 * The HTTP relay (this project's shape; the fallback transport when Pilot P2P is off):
 * - `POST /api/v1/agents/messages/send` `{ from_installation_id, from_hostname, to_installation_id,
 *   body }` (body <= 64 KiB of UTF-8) -> `{ ok: true, message_id }`; 404 when no registered agent
 *   has the recipient installation id, 403 unless the two installations trust each other.
 * - `GET /api/v1/agents/messages/inbox/{installation_id}` -> `{ messages: [{ message_id,
 *   from_installation_id, from_hostname, to_installation_id, body, created_at }] }`, oldest first,
 *   at most 100; a message stays until acked, so a crash between read and handling loses nothing.
 * - `POST /api/v1/agents/messages/ack` `{ installation_id, message_ids }` -> `{ acked }`, counting
 *   only that installation's messages.
 * Trust additions: `GET /api/v1/trust/trusted/{installation_id}` -> `{ trusted: [ids] }` and
 * `POST /api/v1/trust/revoke` `{ from_id, to_id }` -> `{ status: "revoked", from_id, to_id }`.
 */

export interface RegistryApiOptions {
  /** When set, every `/api/v1` call needs `X-Registry-Key: <apiKey>`. */
  apiKey?: string;
  /** An agent is offline this long after its last heartbeat (default three missed 60 s beats). */
  offlineAfterMs?: number;
  now?: () => number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  headers: { "x-registry-key": boolean };
  /** The status answered, or null when the socket was destroyed ("down"). */
  status: number | null;
}

export interface RegistryApi {
  router: express.Router;
  control: express.Router;
  state: RegistryState;
  /** Calls per declared route, e.g. `POST /api/v1/agents/{id}/heartbeat`; others by raw path. */
  calls: Map<string, number>;
  requests: RecordedRequest[];
  shutdown(): void;
}

const API = "/api/v1";
const MAX_RECORDED = 500;
const MAX_MESSAGE_BYTES = 64 * 1024;
const SMALL_BODY = "64kb";
// A 64 KiB message may grow up to six times as JSON (\uXXXX escapes); its own check is in bytes.
const SEND_BODY = "400kb";

type Handler = (req: Request, res: Response, params: Record<string, string>) => void;
interface Route {
  method: string;
  template: string;
  re: RegExp;
  /** The JSON body parser, for routes that declare a body. */
  body?: RequestHandler;
  handle: Handler;
}

// --- request validation, FastAPI style -------------------------------------------------------

interface Detail {
  loc: Array<string | number>;
  msg: string;
  type: string;
  input: unknown;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** One zod issue as pydantic would word it. */
function toDetail(issue: z.core.$ZodIssue, input: unknown, root: string): Detail {
  const at = (path: PropertyKey[]) =>
    path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as never)[k] : undefined), input);
  const value = at(issue.path);
  const d = (type: string, msg: string): Detail => ({
    loc: [root, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))],
    msg,
    type,
    input: value ?? null,
  });
  const n = "minimum" in issue ? Number(issue.minimum) : "maximum" in issue ? Number(issue.maximum) : 0;
  const len = Array.isArray(value) ? value.length : 0;
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined)
        return { ...d("missing", "Field required"), input: at(issue.path.slice(0, -1)) ?? null };
      if (issue.expected === "string") return d("string_type", "Input should be a valid string");
      if (issue.expected === "int" && typeof value === "number")
        return d("int_from_float", "Input should be a valid integer, got a number with a fractional part");
      if (issue.expected === "int" || issue.expected === "number")
        return d("int_type", "Input should be a valid integer");
      if (issue.expected === "array") return d("list_type", "Input should be a valid list");
      if (issue.path.length === 0)
        return d(
          "model_attributes_type",
          "Input should be a valid dictionary or object to extract fields from",
        );
      return d("dict_type", "Input should be a valid dictionary");
    case "too_small":
      if (issue.origin === "string")
        return d("string_too_short", `String should have at least ${plural(n, "character")}`);
      if (issue.origin === "array")
        return d("too_short", `List should have at least ${plural(n, "item")} after validation, not ${len}`);
      return d("greater_than_equal", `Input should be greater than or equal to ${n}`);
    case "too_big":
      if (issue.origin === "string")
        return d("string_too_long", `String should have at most ${plural(n, "character")}`);
      if (issue.origin === "array")
        return d("too_long", `List should have at most ${plural(n, "item")} after validation, not ${len}`);
      return d("less_than_equal", `Input should be less than or equal to ${n}`);
    default:
      return d("value_error", `Value error, ${issue.message}`);
  }
}

const unprocessable = (res: Response, detail: Detail[]) => res.status(422).json({ detail });

function parseBody<T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined {
  const r = schema.safeParse(req.body);
  if (r.success) return r.data;
  unprocessable(
    res,
    r.error.issues.map((i) => toDetail(i, req.body, "body")),
  );
  return undefined;
}

/** An integer query param (the last one when repeated, as FastAPI takes it) within bounds. */
function intQuery(
  req: Request,
  name: string,
  errors: Detail[],
  ge?: number,
  le?: number,
): number | undefined {
  const raw = req.query[name];
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (typeof text !== "string") return undefined;
  const loc = ["query", name];
  if (!/^\s*[+-]?\d+\s*$/.test(text)) {
    errors.push({
      loc,
      msg: "Input should be a valid integer, unable to parse string as an integer",
      type: "int_parsing",
      input: text,
    });
    return undefined;
  }
  const n = Number(text);
  if (ge !== undefined && n < ge)
    errors.push({
      loc,
      msg: `Input should be greater than or equal to ${ge}`,
      type: "greater_than_equal",
      input: text,
    });
  else if (le !== undefined && n > le)
    errors.push({
      loc,
      msg: `Input should be less than or equal to ${le}`,
      type: "less_than_equal",
      input: text,
    });
  return n;
}

const strQuery = (req: Request, name: string): string[] => {
  const raw = req.query[name];
  return (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === "string");
};

// --- request bodies ----------------------------------------------------------------------------

const optStr = (max: number) => z.string().max(max).nullish();
const installationId = z.string().min(1).max(256);

const AgentBody = z.object({
  hostname: z.string().min(1).max(253),
  installation_id: installationId.nullish(),
  pilot_node_id: z.int().min(0).max(0xffff_ffff).nullish(),
  pilot_address: optStr(64),
  display_name: optStr(256),
  description: optStr(4096),
  capabilities: z.array(z.string().min(1).max(128)).max(50).nullish(),
});
const SendBody = z.object({
  from_installation_id: installationId,
  from_hostname: z.string().min(1).max(253),
  to_installation_id: installationId,
  body: z
    .string()
    .refine((s) => Buffer.byteLength(s, "utf8") <= MAX_MESSAGE_BYTES, "body must be at most 65536 bytes"),
});
const AckBody = z.object({
  installation_id: installationId,
  message_ids: z.array(z.string().max(64)).max(1000),
});
const TrustPair = z.object({ from_id: installationId, to_id: installationId });
const TrustRequestBody = TrustPair.extend({ introduction: z.string().min(1).max(2000) });

// --- the API ----------------------------------------------------------------------------------

export function createRegistryApi(opts: RegistryApiOptions = {}): RegistryApi {
  const state = new RegistryState({ offlineAfterMs: opts.offlineAfterMs, now: opts.now });
  const calls = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const heartbeatFailures: number[] = [];
  let downUntil = 0;
  const routes: Route[] = [];
  const smallBody = jsonBody(SMALL_BODY);
  const sendBody = jsonBody(SEND_BODY);
  const on = (method: string, template: string, handle: Handler, body?: RequestHandler) => {
    const re = new RegExp(`^${template.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)")}$`);
    routes.push({ method, template, re, handle, body });
  };
  const notFound = (res: Response, what = "Agent not found") => res.status(404).json({ detail: what });

  // Declared in FastAPI's order: the fixed paths before `/agents/{id}`, which would capture them.
  on(
    "POST",
    "/agents/",
    (req, res) => {
      const body = parseBody(AgentBody, req, res);
      if (!body) return;
      const r = state.register(body);
      if ("detail" in r) return res.status(r.status).json({ detail: r.detail });
      res.status(r.status).json(r.record);
    },
    smallBody,
  );
  on("GET", "/agents/", (req, res) => {
    const errors: Detail[] = [];
    const node = intQuery(req, "pilot_node_id", errors);
    if (errors.length) return unprocessable(res, errors);
    res.json({ agents: state.list(node) });
  });
  on("GET", "/agents/search", (req, res) => {
    const errors: Detail[] = [];
    const limit = intQuery(req, "limit", errors, 1, 50) ?? 20;
    if (errors.length) return unprocessable(res, errors);
    res.json(state.search(strQuery(req, "q").at(-1), strQuery(req, "capabilities"), limit));
  });
  on("GET", "/agents/by-hostname/{hostname}", (_req, res, p) => {
    const a = state.byHostname(p.hostname as string);
    if (!a) return notFound(res);
    res.json(a);
  });
  on(
    "POST",
    "/agents/messages/send",
    (req, res) => {
      const body = parseBody(SendBody, req, res);
      if (!body) return;
      const r = state.send(body);
      if ("detail" in r) return res.status(r.status).json({ detail: r.detail });
      res.json({ ok: true, message_id: r.message_id });
    },
    sendBody,
  );
  on("GET", "/agents/messages/inbox/{installation_id}", (_req, res, p) => {
    res.json({ messages: state.inbox(p.installation_id as string) });
  });
  on(
    "POST",
    "/agents/messages/ack",
    (req, res) => {
      const body = parseBody(AckBody, req, res);
      if (body) res.json({ acked: state.ack(body.installation_id, body.message_ids) });
    },
    smallBody,
  );
  on("GET", "/agents/{id}", (_req, res, p) => {
    const a = state.get(p.id as string);
    if (!a) return notFound(res);
    res.json(a);
  });
  on("DELETE", "/agents/{id}", (_req, res, p) => {
    if (!state.deregister(p.id as string)) return notFound(res);
    res.status(204).end();
  });
  on("POST", "/agents/{id}/heartbeat", (_req, res, p) => {
    const injected = heartbeatFailures.shift();
    if (injected !== undefined)
      return res.status(injected).json({ detail: `Injected ${injected} by the test` });
    const lastSeen = state.heartbeat(p.id as string);
    if (!lastSeen) return notFound(res);
    res.json({ status: "ok", last_seen: lastSeen });
  });

  on(
    "POST",
    "/trust/request",
    (req, res) => {
      const b = parseBody(TrustRequestBody, req, res);
      if (!b) return;
      const r = state.requestTrust(b.from_id, b.to_id, b.introduction);
      if (typeof r !== "string") return res.status(r.status).json({ detail: r.detail });
      res.json({ status: r, from_id: b.from_id, to_id: b.to_id });
    },
    smallBody,
  );
  on("GET", "/trust/pending/{installation_id}", (_req, res, p) => {
    res.json({ pending: state.pendingFor(p.installation_id as string) });
  });
  on("GET", "/trust/trusted/{installation_id}", (_req, res, p) => {
    res.json({ trusted: state.trustedWith(p.installation_id as string) });
  });
  // `act` answers false when there was no pending request to settle.
  const trustAction = (verb: string, status: string, act: (from: string, to: string) => boolean) =>
    on(
      "POST",
      `/trust/${verb}`,
      (req, res) => {
        const b = parseBody(TrustPair, req, res);
        if (!b) return;
        if (act(b.from_id, b.to_id) === false) return notFound(res, "No pending trust request");
        res.json({ status, from_id: b.from_id, to_id: b.to_id });
      },
      smallBody,
    );
  trustAction("approve", "approved", (f, t) => state.approve(f, t));
  trustAction("reject", "rejected", (f, t) => state.reject(f, t));
  trustAction("block", "blocked", (f, t) => {
    state.block(f, t);
    return true;
  });
  trustAction("revoke", "revoked", (f, t) => {
    state.revoke(f, t); // idempotent: revoking what is not there is not an error
    return true;
  });

  /** The first route declaring both path and method, else whether some route declares the path. */
  const resolve = (method: string, path: string) => {
    let pathMatch = false;
    for (const r of routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) {
        const params = Object.fromEntries(Object.entries(m.groups ?? {}).map(([k, v]) => [k, decode(v)]));
        return { route: r, params, pathMatch: true };
      }
      pathMatch = true;
    }
    return { route: undefined, params: {}, pathMatch };
  };

  const router = express.Router();
  router.use((req, res, next) => {
    if (req.path !== API && !req.path.startsWith(`${API}/`)) return next();
    const path = req.path.slice(API.length);
    const query = req.originalUrl.includes("?")
      ? req.originalUrl.slice(req.originalUrl.indexOf("?") + 1)
      : "";
    const found = resolve(req.method, path);
    const key = found.route
      ? `${found.route.method} ${API}${found.route.template}`
      : `${req.method} ${req.path}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    const rec: RecordedRequest = {
      method: req.method,
      path: req.path,
      query,
      headers: { "x-registry-key": req.get("x-registry-key") !== undefined },
      status: null,
    };
    requests.push(rec);
    if (requests.length > MAX_RECORDED) requests.shift();
    res.on("finish", () => {
      rec.status = res.statusCode;
    });
    // "Unreachable": reset the connection rather than answer, as a dead host or a crashed pod would.
    if (Date.now() < downUntil) return req.socket.destroy();

    const { route, params } = found;
    if (!route) {
      if (found.pathMatch) {
        const allow = routes.filter((r) => r.re.test(path)).map((r) => r.method);
        return res.status(405).set("allow", allow.join(", ")).json({ detail: "Method Not Allowed" });
      }
      const alt = path.endsWith("/") ? path.slice(0, -1) : `${path}/`;
      if (alt && resolve(req.method, alt).pathMatch) {
        const location = `${req.protocol}://${req.get("host")}${API}${alt}${query ? `?${query}` : ""}`;
        return res.status(307).set("location", location).end();
      }
      return notFound(res, "Not Found");
    }
    if (opts.apiKey !== undefined && req.get("x-registry-key") !== opts.apiKey)
      return res.status(401).json({ detail: "Invalid or missing registry key" });
    if (!route.body) return route.handle(req, res, params);
    route.body(req, res, (err?: unknown) => {
      if (err) return bodyError(res, err);
      route.handle(req, res, params);
    });
  });

  const control = express.Router();
  control.use(express.json({ limit: SMALL_BODY }));
  control.post("/forget", (req, res) => {
    const b = parseBody(z.object({ id: z.string().optional(), hostname: z.string().optional() }), req, res);
    if (!b) return;
    const id = state.forget(b);
    if (!id) return notFound(res);
    res.json({ forgotten: id });
  });
  control.post("/fail-heartbeats", (req, res) => {
    const b = parseBody(
      z.object({ count: z.int().min(0).max(1000), status: z.int().min(400).max(599).default(503) }),
      req,
      res,
    );
    if (!b) return;
    heartbeatFailures.length = 0; // a new script replaces the old one; count 0 clears it
    for (let i = 0; i < b.count; i++) heartbeatFailures.push(b.status);
    res.json({ queued: heartbeatFailures.length });
  });
  control.post("/down", (req, res) => {
    const b = parseBody(z.object({ ms: z.int().min(0).max(3_600_000) }), req, res);
    if (!b) return;
    downUntil = Date.now() + b.ms;
    res.json({ down_until: new Date(downUntil).toISOString() });
  });
  control.get("/agents", (_req, res) => {
    res.json({ agents: state.snapshot() });
  });
  control.get("/calls", (_req, res) => {
    res.json(Object.fromEntries(calls));
  });
  control.get("/requests", (req, res) => {
    const errors: Detail[] = [];
    const limit = intQuery(req, "limit", errors, 1, MAX_RECORDED) ?? MAX_RECORDED;
    if (errors.length) return unprocessable(res, errors);
    res.json({ requests: requests.slice(-limit) });
  });
  control.post("/reset", (_req, res) => {
    state.reset();
    calls.clear();
    requests.length = 0;
    heartbeatFailures.length = 0;
    downUntil = 0;
    res.json({ ok: true });
  });

  return {
    router,
    control,
    state,
    calls,
    requests,
    shutdown() {
      downUntil = 0;
      heartbeatFailures.length = 0;
    },
  };
}

/** Starlette matches on the decoded path; a malformed escape stays as sent. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

// FastAPI parses a body sent without a content type as JSON too; primitives reach validation.
function jsonBody(limit: string): RequestHandler {
  return express.json({
    limit,
    strict: false,
    type: (req) => {
      const ct = req.headers["content-type"];
      return ct === undefined || /[/+]json\b/i.test(ct);
    },
  });
}

/** A body that could not be read: 413 when too large, FastAPI's json_invalid 422 when malformed. */
export function bodyError(res: Response, err: unknown): void {
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === "entity.parse.failed") {
    const pos = Number(/position (\d+)/.exec(e.message ?? "")?.[1] ?? 0);
    res.status(422).json({
      detail: [
        {
          type: "json_invalid",
          loc: ["body", pos],
          msg: "JSON decode error",
          input: {},
          ctx: { error: e.message },
        },
      ],
    });
    return;
  }
  if (e.type === "entity.too.large") {
    res.status(413).json({ detail: "Request body too large" });
    return;
  }
  res.status(e.status ?? 500).json({ detail: e.message ?? "Internal Server Error" });
}
