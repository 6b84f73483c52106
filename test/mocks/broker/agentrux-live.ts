import { createHash } from "node:crypto";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import type { Action, AgentruxBook, Event, Script } from "./agentrux-state.ts";

/**
 * The live AgenTrux data plane (plugin 1.1.0, EXTERNAL-APIS.md section 1b) for `top_` topics,
 * mounted before the seed routes: a request on any other topic id falls through to them, as the
 * live service refuses ids without the prefix and the seed contract has none.
 *
 * Facts this follows, from agentrux/agentrux-plugins at a63628c (read, not copied):
 * - openclaw/src/http-client.ts: publish `{event_type, payload, metadata?, payload_object_id?}`
 *   -> `{event_id}`; pull `?limit&order&after&exclude_self` -> `{events}`; the `ttl_expired` 404
 *   `{detail: {error, message, details: {reason, oldest_available_evt_id}, next_action}}`;
 *   upload `{size_bytes, content_type, checksum_sha256 (base64)}` -> `{payload_object_id,
 *   presigned_put_url, required_headers}`, PUT with those headers, the object pending until an
 *   event names it (a lookup before that is a 404).
 * - sdk/src/agentrux_sdk/pull_client.py and models.py: event `{event_id, topic_id, event_type,
 *   stored_at, payload, payload_object_id, metadata, cursor}`, envelope `next: {after, has_more,
 *   frontier_cursor}`, limit 1..100.
 * - sdk/src/agentrux_sdk/sse_client.py: hint frames `event: hint`, `id: <cursor>`, data
 *   `{topic_id, event_id, cursor, event_type, payload_kind, stored_at}`; resume by Last-Event-ID.
 * - sdk/src/agentrux_sdk/publish.py: `Idempotency-Key`, `Idempotent-Replayed: true` on a replay.
 * Errors are FastAPI's `{detail: {error, message}}`.
 */

export const isLiveTopic = (id: string) => id.startsWith("top_");
const MAX_OBJECT = 50 * 1024 * 1024;
const FORBIDDEN_ROOT = ["type", "correlation_id", "reply_topic"];

function fail(res: Response, status: number, error: string, message: string, extra: object = {}): void {
  res.status(status).json({ detail: { error, message, ...extra } });
}

/** An opaque per-event cursor (the real ones are signed tokens; this one only has to round-trip). */
export const cursorOf = (eventId: string) => `cur1.${Buffer.from(eventId).toString("base64url")}`;
const eventOfCursor = (after: string) =>
  after.startsWith("cur1.") ? Buffer.from(after.slice(5), "base64url").toString("utf8") : after;

export interface LiveDeps {
  book: AgentruxBook;
  /** Publishes by idempotency key (shared with the seed routes). */
  idempotent: Map<string, { body: string; event_id: string }>;
  /** Presigned URL of an object for PUT or GET. */
  objectUrl: (objectId: string, verb: "PUT" | "GET") => string;
}

export function wireEvent(topic: string, e: Event): Record<string, unknown> {
  return {
    event_id: e.event_id,
    topic_id: topic,
    event_type: e.type,
    stored_at: e.stored_at ?? null,
    payload: e.payload ?? null,
    payload_object_id: e.payload_object_id ?? null,
    metadata: e.metadata ?? null,
    cursor: cursorOf(e.event_id),
  };
}

export function createLiveDataPlane(d: LiveDeps): {
  router: Router;
  notify: (topic: string, e: Event) => void;
  shutdown: () => void;
} {
  const { book } = d;
  const router = express.Router();
  const streams = new Set<{ topic: string; self: string; excludeSelf: boolean; res: Response }>();
  const only = (req: Request, _res: Response, next: NextFunction) =>
    isLiveTopic(String(req.params.id)) ? next() : next("router");

  const granted = (req: Request, res: Response, action: Action): Script | undefined => {
    const auth = req.get("authorization") ?? "";
    const s = auth.startsWith("Bearer ") ? book.verify(auth.slice(7)) : undefined;
    if (!s) return void fail(res, 401, "UNAUTHORIZED", "invalid_token: missing, invalid or expired");
    if (!book.can(s, String(req.params.id), action))
      return void fail(res, 403, "FORBIDDEN", `scope_mismatch: no ${action} on ${req.params.id}`);
    return s;
  };

  const frame = (topic: string, e: Event) =>
    `event: hint\nid: ${cursorOf(e.event_id)}\ndata: ${JSON.stringify({
      topic_id: topic,
      event_id: e.event_id,
      cursor: cursorOf(e.event_id),
      event_type: e.type,
      payload_kind: e.payload_object_id ? "object_ref" : "inline",
      stored_at: e.stored_at,
    })}\n\n`;
  const notify = (topic: string, e: Event) => {
    for (const s of streams)
      if (s.topic === topic && !(s.excludeSelf && e.published_by === s.self)) s.res.write(frame(topic, e));
  };

  /** Index in the topic after `after` (event id or cursor); "expired" or "unknown" when it is not there. */
  const position = (list: Event[], after: string): number | "expired" | "unknown" => {
    const id = eventOfCursor(after);
    const i = list.findIndex((e) => e.event_id === id);
    if (i >= 0) return i;
    return book.evicted.has(id) ? "expired" : "unknown";
  };
  const expired = (res: Response, list: Event[]) =>
    fail(res, 404, "NOT_FOUND", "after cursor refers to a TTL-expired event", {
      details: { reason: "ttl_expired", oldest_available_evt_id: list[0]?.event_id ?? null },
      next_action: "cursor_advance",
    });

  router.post("/topics/:id/events", only, (req, res) => {
    const s = granted(req, res, "write");
    if (!s) return;
    const topic = String(req.params.id);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const stale = FORBIDDEN_ROOT.filter((k) => k in b);
    if (stale.length)
      return fail(
        res,
        422,
        "VALIDATION_ERROR",
        `unknown field(s) ${stale.join(", ")}: use event_type and metadata`,
      );
    const eventType = b.event_type ?? "user.event";
    if (typeof eventType !== "string" || !eventType || eventType.length > 128)
      return fail(res, 422, "VALIDATION_ERROR", "event_type must be a string of 1-128 characters");
    if (
      b.metadata !== undefined &&
      (typeof b.metadata !== "object" || b.metadata === null || Array.isArray(b.metadata))
    )
      return fail(res, 422, "VALIDATION_ERROR", "metadata must be an object");
    const pob = b.payload_object_id;
    if (b.payload === undefined && pob === undefined)
      return fail(res, 422, "VALIDATION_ERROR", "payload or payload_object_id is required");
    const key = req.get("idempotency-key");
    const slot = key ? `${topic} ${s.id} ${key.slice(0, 256)}` : undefined;
    const seen = slot ? d.idempotent.get(slot) : undefined;
    const sent = JSON.stringify(b);
    if (seen) {
      if (seen.body !== sent)
        return fail(res, 409, "IDEMPOTENCY_CONFLICT", "idempotency key reused with another body");
      res.set("idempotent-replayed", "true");
      return res.status(201).json({ event_id: seen.event_id });
    }
    if (pob !== undefined) {
      // The commit: the object must be on this topic and its bytes must be there and match.
      const p = typeof pob === "string" ? book.payloads.get(pob) : undefined;
      if (!p || p.topic_id !== topic)
        return fail(res, 404, "NOT_FOUND", "payload object not found on this topic");
      if (!p.bytes) return fail(res, 409, "CONFLICT", "payload object not uploaded yet");
      p.committed = true;
    }
    const ev = book.publish(topic, s.id, {
      type: eventType,
      payload: b.payload,
      ...(b.metadata ? { metadata: b.metadata as Record<string, unknown> } : {}),
      ...(typeof pob === "string" ? { payload_object_id: pob } : {}),
    });
    if (slot) {
      d.idempotent.set(slot, { body: sent, event_id: ev.event_id });
      if (d.idempotent.size > 10_000) d.idempotent.delete(d.idempotent.keys().next().value as string);
    }
    notify(topic, ev);
    res.status(201).json({ event_id: ev.event_id });
  });

  router.get("/topics/:id/events/stream", only, (req, res) => {
    const s = granted(req, res, "read");
    if (!s) return;
    const topic = String(req.params.id);
    const excludeSelf = req.query.exclude_self === "true";
    const list = book.topics.get(topic) ?? [];
    const last = req.get("last-event-id");
    const at = last ? position(list, last) : undefined;
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    res.write(": hint stream\n\n");
    // Resumed: what was stored after Last-Event-ID is hinted at once (an unknown one replays nothing).
    if (typeof at === "number")
      for (const e of list.slice(at + 1))
        if (!(excludeSelf && e.published_by === s.id)) res.write(frame(topic, e));
    const st = { topic, self: s.id, excludeSelf, res };
    streams.add(st);
    req.on("close", () => streams.delete(st));
  });

  router.get("/topics/:id/events", only, (req, res) => {
    const s = granted(req, res, "read");
    if (!s) return;
    const topic = String(req.params.id);
    const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
    const order = req.query.order ?? "asc";
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return fail(res, 422, "VALIDATION_ERROR", "limit must be an integer from 1 to 100");
    if (order !== "asc" && order !== "desc")
      return fail(res, 422, "VALIDATION_ERROR", "order must be asc or desc");
    const list = book.topics.get(topic) ?? [];
    const type = typeof req.query.type === "string" ? req.query.type : undefined;
    const self = req.query.exclude_self === "true" ? s.id : undefined;
    let window = list;
    if (typeof req.query.after === "string" && req.query.after) {
      const at = position(list, req.query.after);
      if (at === "expired") return expired(res, list);
      if (at === "unknown")
        return fail(res, 404, "NOT_FOUND", "after cursor refers to no event of this topic");
      window = order === "asc" ? list.slice(at + 1) : list.slice(0, at);
    }
    const wanted = window.filter((e) => (!type || e.type === type) && e.published_by !== self);
    const ordered = order === "asc" ? wanted : [...wanted].reverse();
    const page = ordered.slice(0, limit);
    const newest = list.at(-1);
    res.json({
      events: page.map((e) => wireEvent(topic, e)),
      next: {
        after: page.length ? cursorOf((page.at(-1) as Event).event_id) : null,
        has_more: ordered.length > page.length,
        frontier_cursor: newest ? cursorOf(newest.event_id) : null,
      },
    });
  });

  router.post("/topics/:id/payloads", only, (req, res) => {
    if (!granted(req, res, "write")) return;
    const { size_bytes, content_type, checksum_sha256 } = (req.body ?? {}) as Record<string, unknown>;
    if (!Number.isInteger(size_bytes) || (size_bytes as number) < 1 || (size_bytes as number) > MAX_OBJECT)
      return fail(res, 422, "VALIDATION_ERROR", `size_bytes must be an integer from 1 to ${MAX_OBJECT}`);
    const ct = content_type ?? "application/octet-stream";
    if (typeof ct !== "string" || ct.length > 128)
      return fail(res, 422, "VALIDATION_ERROR", "content_type is too long");
    if (
      checksum_sha256 !== undefined &&
      (typeof checksum_sha256 !== "string" || !/^([A-Za-z0-9+/]{43}=|[0-9a-f]{64})$/.test(checksum_sha256))
    )
      return fail(
        res,
        422,
        "VALIDATION_ERROR",
        "checksum_sha256 must be a sha256 in base64 (44) or hex (64)",
      );
    const p = book.newPayload(String(req.params.id), {
      content_type: ct,
      filename: "",
      size: size_bytes as number,
      ...(typeof checksum_sha256 === "string" ? { checksum: checksum_sha256 } : {}),
    });
    res.status(201).json({
      payload_object_id: p.object_id,
      presigned_put_url: d.objectUrl(p.object_id, "PUT"),
      required_headers: {
        "Content-Type": ct,
        ...(p.checksum ? { "x-amz-checksum-sha256": p.checksum } : {}),
      },
      expires_in: 900,
    });
  });

  router.get("/topics/:id/payloads/:objectId", only, (req, res) => {
    if (!granted(req, res, "read")) return;
    const p = book.payloads.get(String(req.params.objectId));
    if (!p || p.topic_id !== req.params.id || !p.committed)
      return fail(res, 404, "NOT_FOUND", "payload object not found or not committed");
    res.json({
      payload_object_id: p.object_id,
      presigned_get_url: d.objectUrl(p.object_id, "GET"),
      content_type: p.content_type,
      size_bytes: p.size,
    });
  });

  return {
    router,
    notify,
    shutdown() {
      for (const s of streams) s.res.destroy();
      streams.clear();
    },
  };
}

/**
 * What a presigned PUT of a live object must satisfy, as S3 does for the signed headers: the
 * content type and checksum it was registered with, and the size; an error text, or undefined.
 */
export function checkLivePut(
  p: { size: number; content_type: string; checksum?: string },
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): string | undefined {
  if (body.length !== p.size) return `size ${body.length} is not the registered ${p.size}`;
  if (headers["content-type"] !== p.content_type) return "Content-Type differs from the signed one";
  if (p.checksum) {
    const sent = headers["x-amz-checksum-sha256"];
    const hash = createHash("sha256").update(body);
    const want = p.checksum.length === 64 ? hash.digest("hex") : hash.digest("base64");
    if (sent !== p.checksum || want !== p.checksum) return "x-amz-checksum-sha256 does not match the bytes";
  }
  return undefined;
}
