import { createHmac, randomBytes } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import { checkLivePut, createLiveDataPlane, isLiveTopic } from "./agentrux-live.ts";
import {
  ACCESS_TTL_S,
  type Action,
  AgentruxBook,
  CODE_PATTERN,
  type Event,
  LIVE_CODE_PATTERN,
  type Script,
} from "./agentrux-state.ts";

/**
 * The AgenTrux pub/sub API of EXTERNAL-APIS.md section 1 (the seed's), with the live service's
 * control plane beside it and its data plane for `top_` topics (agentrux-live.ts, section 1b),
 * and test-only control routes under `/_control/agentrux`: create scripts, issue activation codes,
 * publish and read as an outside client, count calls, cut SSE streams, fail the next N calls,
 * expire tokens, age a topic's oldest events out of retention (`/topics/:id/evict`).
 */

export interface AgentruxApiOptions {
  /** Operator token for `/console/...` (defaults to MOCK_AGENTRUX_CONSOLE_TOKEN or a test value). */
  consoleToken?: string;
  /**
   * A script made at start with these grants, and a known activation code for it: the standalone
   * broker of a topology, whose gateway gets the same code through AGENTRUX_ACTIVATION_CODE.
   */
  preset?: { grants: Array<{ topic_id: string; action: Action }>; activationCode: string };
}

/** `cmd:read,res:write` -> grants; throws naming the bad entry. */
export function parseGrants(text: string): Array<{ topic_id: string; action: Action }> {
  return text.split(",").map((entry) => {
    const [topic, action] = entry.trim().split(":");
    if (!topic || (action !== "read" && action !== "write"))
      throw new Error(`--agentrux-grants: "${entry}" is not <topic>:read or <topic>:write`);
    return { topic_id: topic, action };
  });
}

export interface AgentruxApi {
  router: express.Router;
  control: express.Router;
  book: AgentruxBook;
  /** Calls per route, e.g. `POST /auth/activate`. */
  calls: Map<string, number>;
  /** User-Agent headers seen (the live service refuses requests without one). */
  userAgents: Set<string>;
  /** Ends open SSE streams and timers so the server can close. */
  shutdown(): void;
}

export const DEFAULT_CONSOLE_TOKEN = "agentrux-console-token-0123456789";
const MAX_LIMIT = 100;

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

const str = (v: unknown, max = 512): v is string => typeof v === "string" && v.length > 0 && v.length <= max;

export function createAgentruxApi(opts: AgentruxApiOptions, publicUrl: () => string): AgentruxApi {
  const book = new AgentruxBook();
  if (opts.preset) {
    const script = book.createScript(opts.preset.grants);
    book.issueCode(script.id, 24 * 365, opts.preset.activationCode);
  }
  const consoleToken = opts.consoleToken ?? process.env.MOCK_AGENTRUX_CONSOLE_TOKEN ?? DEFAULT_CONSOLE_TOKEN;
  const calls = new Map<string, number>();
  const userAgents = new Set<string>();
  const streams = new Set<{ topic: string; res: Response }>();
  /** `after`: the route runs (and may store what was sent), then its answer is replaced. */
  const failures: Array<{ status: number; path?: string; after?: boolean }> = [];
  /** Publishes by `Idempotency-Key` per topic and script, as the live service keeps them. */
  const idempotent = new Map<string, { body: string; event_id: string }>();
  /** What a 200 from activation holds: the usual answer, the same without grants, or junk. */
  let activationAnswer: "normal" | "no-grants" | "unexpected" = "normal";
  let minimalTokens = false;
  const signKey = randomBytes(16);
  const invites = new Map<string, { topic_id: string; action: Action; used: boolean }>();
  const router = express.Router();
  // Mounted at the broker's root beside the lease API: touch only AgenTrux's own paths.
  const OWN = /^\/(auth|oauth|topics|console)(\/|$)/;
  const json = express.json({ limit: "1mb" });
  router.use((req, res, next) => (OWN.test(req.path) ? json(req, res, next) : next()));

  const sign = (objectId: string, verb: string) =>
    createHmac("sha256", signKey).update(`${verb}:${objectId}`).digest("base64url");
  /** Test knob: each hint goes out in two writes split inside `data:`, as TCP may deliver it. */
  let splitHints = false;
  const notify = (topic: string, ev?: Event) => {
    if (isLiveTopic(topic)) return ev && live.notify(topic, ev);
    const hint = `data: ${JSON.stringify({ topic_id: topic })}\n\n`;
    for (const s of streams) {
      if (s.topic !== topic) continue;
      if (!splitHints) s.res.write(hint);
      else {
        s.res.write(hint.slice(0, 3));
        setTimeout(() => s.res.writableEnded || s.res.write(hint.slice(3)), 50);
      }
    }
  };

  // Call counting and scripted failures, before every route.
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (!OWN.test(req.path)) return next();
    const key = `${req.method} ${req.path
      .replace(/^\/topics\/[^/]+/, "/topics/{id}")
      .replace(/\/payloads\/[^/]+$/, "/payloads/{object_id}")
      .replace(/^\/console\/scripts\/[^/]+/, "/console/scripts/{id}")}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    const agent = req.get("user-agent");
    if (agent && userAgents.size < 100) userAgents.add(agent.slice(0, 200));
    const i = failures.findIndex((f) => !f.path || req.path.startsWith(f.path));
    if (i >= 0) {
      const f = failures.splice(i, 1)[0] as { status: number; after?: boolean };
      if (!f.after) return fail(res, f.status, "injected_failure", `injected ${f.status} by the test`);
      // The handler's own answer is swallowed: the client sees a failure for a request that landed.
      res.json = () => {
        res
          .status(f.status)
          .type("json")
          .end(
            JSON.stringify({
              error: { code: "injected_failure", message: `injected ${f.status} after handling` },
            }),
          );
        return res;
      };
    }
    next();
  });

  // The live data plane answers for `top_` topics; every other topic falls through to the seed routes.
  const live = createLiveDataPlane({
    book,
    idempotent,
    objectUrl: (objectId, verb) => `${publicUrl()}/_objects/${objectId}?sig=${sign(objectId, verb)}`,
  });
  router.use(live.router);

  const bearer = (req: Request, res: Response): Script | undefined => {
    const auth = req.get("authorization") ?? "";
    const s = auth.startsWith("Bearer ") ? book.verify(auth.slice(7)) : undefined;
    if (!s) fail(res, 401, "invalid_token", "missing, invalid or expired access token");
    return s;
  };
  const granted = (req: Request, res: Response, action: Action): Script | undefined => {
    const s = bearer(req, res);
    if (!s) return undefined;
    if (!book.can(s, req.params.id as string, action)) {
      fail(res, 403, "forbidden", `no ${action} grant on topic ${req.params.id}`);
      return undefined;
    }
    return s;
  };

  router.post("/auth/activate", (req, res) => {
    const code = req.body?.activation_code;
    if (!str(code, 256)) return fail(res, 400, "invalid_request", "activation_code is required");
    const r = book.activate(code);
    if ("status" in r) return fail(res, r.status, r.code, r.message);
    if (activationAnswer === "unexpected") return res.json({ ok: true });
    if (activationAnswer === "no-grants") return res.json({ script_id: r.id, client_secret: r.secret });
    res.json({ script_id: r.id, client_secret: r.secret, grants: r.grants });
  });

  // The live service's control plane (plugin 1.1.0): an act_ code redeemed for an OAuth client,
  // and client_credentials tokens from a form post (no refresh token; expires_in seconds).
  router.post("/auth/redeem-activation-code", (req, res) => {
    const code = req.body?.code;
    if (!str(code, 256)) return fail(res, 422, "INVALID", "code is required");
    const r = book.activate(code, LIVE_CODE_PATTERN);
    if ("status" in r) return fail(res, r.status, r.code, r.message);
    if (activationAnswer === "unexpected") return res.json({ ok: true });
    res.json({
      client_id: r.clientId,
      client_secret: r.secret,
      script_id: r.id,
      issued_at: new Date(book.now()).toISOString(),
    });
  });

  router.post("/oauth/token", express.urlencoded({ extended: false, limit: "16kb" }), (req, res) => {
    if (!req.is("application/x-www-form-urlencoded"))
      return fail(res, 415, "unsupported_media_type", "expected a form (application/x-www-form-urlencoded)");
    const { grant_type, client_id, client_secret } = req.body ?? {};
    if (grant_type !== "client_credentials")
      return fail(res, 400, "unsupported_grant_type", "grant_type must be client_credentials");
    const s = str(client_id) && str(client_secret) ? book.checkClient(client_id, client_secret) : undefined;
    if (!s) return fail(res, 401, "invalid_client", "unknown client or wrong client secret");
    const t = book.issueTokens(s.id);
    res.json({ access_token: t.access_token, token_type: "Bearer", expires_in: ACCESS_TTL_S, scope: "" });
  });

  router.post("/auth/token", (req, res) => {
    const { script_id, client_secret } = req.body ?? {};
    const s = str(script_id) && str(client_secret) ? book.checkSecret(script_id, client_secret) : undefined;
    if (!s) return fail(res, 401, "invalid_client", "unknown script or wrong client secret");
    const t = book.issueTokens(s.id);
    // The leanest answer a real client accepts: the access token alone.
    res.json(minimalTokens ? { access_token: t.access_token } : t);
  });

  router.post("/auth/refresh", (req, res) => {
    const token = req.body?.refresh_token;
    if (!str(token)) return fail(res, 400, "invalid_request", "refresh_token is required");
    const r = book.useRefresh(token);
    if (typeof r !== "string") return fail(res, r.status, "invalid_grant", r.message);
    res.json(book.issueTokens(r));
  });

  router.post("/auth/redeem-invite-code", (req, res) => {
    const { invite_code, script_id, client_secret } = req.body ?? {};
    const s = str(script_id) && str(client_secret) ? book.checkSecret(script_id, client_secret) : undefined;
    if (!s) return fail(res, 401, "invalid_client", "unknown script or wrong client secret");
    const inv = str(invite_code) ? invites.get(invite_code) : undefined;
    if (!inv || inv.used) return fail(res, 404, "invalid_invite", "invite code not found or used");
    inv.used = true;
    s.grants.push({
      grant_id: `gr_${randomBytes(8).toString("hex")}`,
      topic_id: inv.topic_id,
      action: inv.action,
    });
    res.json({ topic_id: inv.topic_id, action: inv.action });
  });

  router.post("/topics/:id/events", (req, res) => {
    const s = granted(req, res, "write");
    if (!s) return;
    const { type, payload, correlation_id, reply_topic } = req.body ?? {};
    if (!str(type, 128) || payload === undefined)
      return fail(res, 400, "invalid_request", "type and payload are required");
    const key = req.get("idempotency-key");
    const slot = key ? `${req.params.id} ${s.id} ${key.slice(0, 256)}` : undefined;
    const seen = slot ? idempotent.get(slot) : undefined;
    const sent = JSON.stringify(req.body);
    if (seen) {
      if (seen.body !== sent)
        return fail(res, 409, "IDEMPOTENCY_CONFLICT", "idempotency key reused with a different body");
      res.set("idempotent-replayed", "true");
      return res.json({ event_id: seen.event_id });
    }
    const ev = book.publish(req.params.id as string, s.id, { type, payload, correlation_id, reply_topic });
    if (slot) {
      idempotent.set(slot, { body: sent, event_id: ev.event_id });
      if (idempotent.size > 10_000) idempotent.delete(idempotent.keys().next().value as string);
    }
    notify(req.params.id as string, ev);
    res.json({ event_id: ev.event_id });
  });

  router.get("/topics/:id/events/stream", (req, res) => {
    if (!granted(req, res, "read")) return;
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    res.write(": hint stream\n\n");
    const s = { topic: req.params.id as string, res };
    streams.add(s);
    req.on("close", () => streams.delete(s));
  });

  router.get("/topics/:id/events", (req, res) => {
    if (!granted(req, res, "read")) return;
    // Without a cursor the real service answers the newest `limit` events (the official plugin's
    // agentrux_send_message reads replies that way), not the oldest.
    const newest = req.query.after_sequence_no === undefined;
    const after = Number(req.query.after_sequence_no ?? 0);
    const limit = Math.min(Number(req.query.limit ?? 20), MAX_LIMIT);
    if (!Number.isInteger(after) || after < 0 || !Number.isInteger(limit) || limit < 1)
      return fail(res, 400, "invalid_request", "after_sequence_no and limit must be non-negative integers");
    const type = typeof req.query.type === "string" ? req.query.type : undefined;
    const items = newest
      ? book.read(req.params.id as string, 0, Number.MAX_SAFE_INTEGER, type).slice(-limit)
      : book.read(req.params.id as string, after, limit, type);
    res.json({ items: items.map(({ published_by: _p, ...e }) => e) });
  });

  router.post("/topics/:id/payloads", (req, res) => {
    if (!granted(req, res, "write")) return;
    const { content_type, filename, size } = req.body ?? {};
    if (
      !str(content_type, 128) ||
      !str(filename, 256) ||
      !Number.isInteger(size) ||
      size < 0 ||
      size > 50 * 1024 * 1024
    )
      return fail(res, 400, "invalid_request", "content_type, filename and size (<= 50 MB) are required");
    const p = book.newPayload(req.params.id as string, { content_type, filename, size });
    const base = `${publicUrl()}/_objects/${p.object_id}`;
    res.json({
      object_id: p.object_id,
      upload_url: `${base}?sig=${sign(p.object_id, "PUT")}`,
      download_url: `${base}?sig=${sign(p.object_id, "GET")}`,
    });
  });

  router.get("/topics/:id/payloads/:objectId", (req, res) => {
    if (!granted(req, res, "read")) return;
    const p = book.payloads.get(req.params.objectId as string);
    if (!p || p.topic_id !== req.params.id)
      return fail(res, 404, "not_found", "no such object on this topic");
    res.json({ download_url: `${publicUrl()}/_objects/${p.object_id}?sig=${sign(p.object_id, "GET")}` });
  });

  // Presigned object URLs, served by the mock itself.
  router.put("/_objects/:objectId", express.raw({ type: () => true, limit: "50mb" }), (req, res) => {
    const p = book.payloads.get(req.params.objectId as string);
    if (!p || req.query.sig !== sign(p.object_id, "PUT"))
      return fail(res, 403, "bad_signature", "invalid upload URL");
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    // A live object's PUT is held to the headers its URL was signed with, as S3 holds it.
    const refused = isLiveTopic(p.topic_id) ? checkLivePut(p, req.headers, bytes) : undefined;
    if (refused) return fail(res, 403, "SignatureDoesNotMatch", refused);
    p.bytes = bytes;
    res.status(200).end();
  });
  router.get("/_objects/:objectId", (req, res) => {
    const p = book.payloads.get(req.params.objectId as string);
    if (!p?.bytes || req.query.sig !== sign(p.object_id, "GET"))
      return fail(res, 403, "bad_signature", "invalid download URL");
    res.type(p.content_type).send(p.bytes);
  });

  router.post("/console/scripts/:id/activation-codes", (req, res) => {
    if (req.get("authorization") !== `Bearer ${consoleToken}`)
      return fail(res, 401, "unauthorized", "operator token required");
    const ttl = req.body?.ttl_hours;
    if (![1, 6, 24].includes(ttl)) return fail(res, 400, "invalid_request", "ttl_hours must be 1, 6 or 24");
    if (!book.scripts.has(req.params.id as string)) return fail(res, 404, "not_found", "no such script");
    res.json({ activation_code: book.issueCode(req.params.id as string, ttl) });
  });

  const control = express.Router();
  control.use(express.json());
  control.post("/scripts", (req, res) => {
    const grants = Array.isArray(req.body?.grants) ? req.body.grants : [];
    const s = book.createScript(grants);
    res.json({ script_id: s.id, client_secret: s.secret, grants: s.grants });
  });
  control.post("/activation-codes", (req, res) => {
    // `live: true` issues an act_ code for /auth/redeem-activation-code.
    const liveCode = req.body?.live === true;
    const code = book.issueCode(
      req.body?.script_id,
      Number(req.body?.ttl_hours ?? 1),
      liveCode ? `act_${randomBytes(32).toString("base64url")}` : undefined,
    );
    if (!(liveCode ? LIVE_CODE_PATTERN : CODE_PATTERN).test(code)) return fail(res, 500, "bug", "bad code");
    res.json({ activation_code: code });
  });
  control.post("/invites", (req, res) => {
    const code = `inv_${randomBytes(12).toString("base64url")}`;
    invites.set(code, {
      topic_id: req.body?.topic_id,
      action: req.body?.action === "write" ? "write" : "read",
      used: false,
    });
    res.json({ invite_code: code });
  });
  control.post("/topics/:id/publish", (req, res) => {
    // An outside client's event; on a live topic `metadata` and `event_type` are taken too.
    const { event_type, ...rest } = (req.body ?? {}) as { event_type?: string; type?: string };
    const ev = book.publish(req.params.id, "outside-client", {
      ...(rest as { type: string; payload: unknown }),
      type: rest.type ?? event_type ?? "user.event",
    });
    notify(req.params.id, ev);
    res.json(ev);
  });
  control.post("/topics/:id/evict", (req, res) => {
    res.json({ evicted: book.evict(req.params.id, Number(req.body?.count ?? 1)) });
  });
  control.get("/topics/:id/events", (req, res) => {
    res.json({ items: book.topics.get(req.params.id) ?? [] });
  });
  control.get("/calls", (_req, res) => {
    res.json(Object.fromEntries(calls));
  });
  control.post("/cut-streams", (_req, res) => {
    live.shutdown();
    const n = streams.size;
    for (const s of streams) s.res.destroy();
    streams.clear();
    res.json({ cut: n });
  });
  control.post("/fail-next", (req, res) => {
    const count = Number(req.body?.count ?? 1);
    if (count === 0) failures.length = 0; // count 0 clears what is queued
    for (let i = 0; i < count; i++)
      failures.push({
        status: Number(req.body?.status ?? 503),
        path: req.body?.path,
        after: req.body?.after === true,
      });
    res.json({ queued: failures.length });
  });
  control.post("/activation-answer", (req, res) => {
    const mode = req.body?.mode;
    if (mode !== "normal" && mode !== "no-grants" && mode !== "unexpected")
      return fail(res, 400, "invalid_request", `mode "${mode}": expected normal, no-grants or unexpected`);
    activationAnswer = mode;
    res.json({ mode });
  });
  control.post("/split-hints", (req, res) => {
    splitHints = req.body?.split === true;
    res.json({ split: splitHints });
  });
  control.post("/token-answer", (req, res) => {
    minimalTokens = req.body?.minimal === true;
    res.json({ minimal: minimalTokens });
  });
  control.post("/expire-tokens", (_req, res) => {
    book.notBefore = Math.floor(book.now() / 1000) + 1;
    res.json({ ok: true });
  });

  return {
    router,
    control,
    book,
    calls,
    userAgents,
    shutdown() {
      for (const s of streams) s.res.destroy();
      streams.clear();
      live.shutdown();
    },
  };
}
