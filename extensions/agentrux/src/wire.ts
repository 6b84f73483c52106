import { z } from "zod";
import type { Generation } from "./generation.ts";

/**
 * The data plane of both AgenTrux generations as pure functions (EXTERNAL-APIS.md sections 1 and
 * 1b): what a pull, a publish, a stream and an upload send, and what their answers must look like,
 * mapped onto one event shape the channel and the tools use. No sockets here; client.ts sends.
 *
 * seed (plugin 0.14.5): uuid topics, `?after_sequence_no=N` -> `{items}` with `sequence_no`,
 * publish `{type, payload, correlation_id?, reply_topic?}`, SSE resumed by query.
 * live (plugin 1.1.0): `top_<uuid>` topics, `?after=<event id>&limit&order&exclude_self` ->
 * `{events, next}` with an opaque per-event `cursor`, publish `{event_type, payload, metadata?,
 * payload_object_id?}` (correlation id and reply topic folded into `metadata`), SSE resumed by
 * the `Last-Event-ID` header, a 404 whose detail says `ttl_expired` once a cursor has aged out.
 */

/** Where a reader stands on a topic: a sequence number (seed) or an event cursor (live; "" = the start). */
export type Position = number | string;

/** One event as the channel sees it, whichever generation delivered it. */
export interface TopicEvent {
  event_id: string;
  /** Resume position just after this event. */
  position: Position;
  type: string;
  payload: unknown;
  correlation_id?: string;
  reply_topic?: string;
  /** Live only: an object committed with this event. */
  payload_object_id?: string;
}

const id = z.string().min(1).max(256);
const optText = z.string().max(256).optional().nullable();

const seedEvent = z.object({
  event_id: id,
  sequence_no: z.number().int().min(0),
  type: z.string().max(256),
  payload: z.unknown(),
  correlation_id: optText,
  reply_topic: optText,
});
const liveEvent = z.object({
  event_id: id,
  event_type: z.string().max(256).optional(),
  payload: z.unknown(),
  payload_object_id: optText,
  metadata: z.record(z.string(), z.unknown()).optional().nullable(),
  cursor: z.string().max(1024).optional().nullable(),
});
const seedPage = z.object({ items: z.array(seedEvent).max(1000) });
const livePage = z.object({
  events: z.array(liveEvent).max(1000),
  next: z
    .object({ after: z.string().max(1024).optional().nullable(), has_more: z.boolean().optional() })
    .passthrough()
    .optional()
    .nullable(),
});

const metaText = (m: Record<string, unknown> | null | undefined, k: string) => {
  const v = m?.[k];
  return typeof v === "string" && v.length <= 256 ? v : undefined;
};

/** The start position of a topic: before its first event. */
export const startOf = (g: Generation): Position => (g === "live" ? "" : 0);

/** A persisted position fits the generation (a number is seed's, a string live's). */
export const fitsGeneration = (g: Generation, p: unknown): p is Position =>
  g === "live" ? typeof p === "string" : typeof p === "number" && Number.isInteger(p) && p >= 0;

/** The live service's data plane takes `top_<uuid>` ids only; a bare uuid gets the prefix. */
export const topicPath = (g: Generation, topic: string): string =>
  `/topics/${encodeURIComponent(g === "live" && !topic.startsWith("top_") ? `top_${topic}` : topic)}`;

export interface PullQuery {
  after?: Position;
  limit: number;
  /** Newest first (live only; the seed API reads ascending). */
  newest?: boolean;
  /** Leave out events this client published itself (live only). */
  excludeSelf?: boolean;
  type?: string;
}

export function pullPath(g: Generation, topic: string, q: PullQuery): string {
  const qs = new URLSearchParams();
  if (g === "seed") {
    qs.set("after_sequence_no", String(typeof q.after === "number" ? q.after : 0));
    qs.set("limit", String(q.limit));
  } else {
    qs.set("limit", String(q.limit));
    qs.set("order", q.newest ? "desc" : "asc");
    if (typeof q.after === "string" && q.after) qs.set("after", q.after);
    if (q.excludeSelf) qs.set("exclude_self", "true");
  }
  if (q.type) qs.set("type", q.type);
  return `${topicPath(g, topic)}/events?${qs}`;
}

/** The events of a pull answer, or undefined when the answer does not match the generation's contract. */
export function parsePage(g: Generation, body: unknown): TopicEvent[] | undefined {
  if (g === "seed") {
    const r = seedPage.safeParse(body);
    return r.success
      ? r.data.items.map((e) => ({
          event_id: e.event_id,
          position: e.sequence_no,
          type: e.type,
          payload: e.payload,
          correlation_id: e.correlation_id ?? undefined,
          reply_topic: e.reply_topic ?? undefined,
        }))
      : undefined;
  }
  const r = livePage.safeParse(body);
  return r.success
    ? r.data.events.map((e) => ({
        event_id: e.event_id,
        // The per-event cursor resumes independently of the event row; the id is the fallback.
        position: e.cursor || e.event_id,
        type: e.event_type ?? "user.event",
        payload: e.payload,
        correlation_id: metaText(e.metadata, "correlation_id"),
        reply_topic: metaText(e.metadata, "reply_topic"),
        payload_object_id: e.payload_object_id ?? undefined,
      }))
    : undefined;
}

/**
 * A live 404 saying the `after` cursor aged out of the topic's retention (FastAPI wraps it in
 * `detail`: `{detail: {details: {reason: "ttl_expired", oldest_available_evt_id}, next_action:
 * "cursor_advance"}}`); undefined for any other answer. `oldest` is null for an emptied topic.
 */
export function ttlExpired(status: number, body: unknown): { oldest: string | null } | undefined {
  if (status !== 404 || !body || typeof body !== "object") return undefined;
  const outer = body as { detail?: unknown };
  const d = (outer.detail && typeof outer.detail === "object" ? outer.detail : body) as {
    details?: { reason?: unknown; oldest_available_evt_id?: unknown };
    next_action?: unknown;
  };
  if (d.details?.reason !== "ttl_expired" && d.next_action !== "cursor_advance") return undefined;
  const oldest = d.details?.oldest_available_evt_id;
  return { oldest: typeof oldest === "string" && oldest.length > 0 && oldest.length <= 256 ? oldest : null };
}

export interface Publish {
  type: string;
  payload?: unknown;
  correlation_id?: string;
  reply_topic?: string;
  /** Live only: commits this uploaded object with the event. */
  payload_object_id?: string;
  /** Live only: more metadata beside the correlation id and reply topic. */
  metadata?: Record<string, unknown>;
}

export function publishBody(g: Generation, e: Publish): Record<string, unknown> {
  if (g === "seed")
    return {
      type: e.type,
      payload: e.payload ?? {},
      ...(e.correlation_id ? { correlation_id: e.correlation_id } : {}),
      ...(e.reply_topic ? { reply_topic: e.reply_topic } : {}),
    };
  const metadata = {
    ...e.metadata,
    ...(e.correlation_id ? { correlation_id: e.correlation_id } : {}),
    ...(e.reply_topic ? { reply_topic: e.reply_topic } : {}),
  };
  return {
    event_type: e.type,
    ...(e.payload !== undefined ? { payload: e.payload } : {}),
    ...(Object.keys(metadata).length ? { metadata } : {}),
    ...(e.payload_object_id ? { payload_object_id: e.payload_object_id } : {}),
  };
}

/** The SSE hint stream: seed resumes by query, live by the `Last-Event-ID` header. */
export function streamRequest(
  g: Generation,
  topic: string,
  after: Position | undefined,
): { path: string; headers: Record<string, string> } {
  if (g === "seed")
    return {
      path: `${topicPath(g, topic)}/events/stream?after_sequence_no=${typeof after === "number" ? after : 0}`,
      headers: {},
    };
  return {
    path: `${topicPath(g, topic)}/events/stream?exclude_self=true`,
    headers: typeof after === "string" && after ? { "last-event-id": after } : {},
  };
}

const seedUpload = z.object({
  object_id: id,
  upload_url: z.string().url().max(4096),
  download_url: z.string().url().max(4096).optional(),
});
const liveUpload = z.object({
  payload_object_id: id,
  presigned_put_url: z.string().url().max(4096),
  required_headers: z.record(z.string().max(256), z.string().max(4096)).optional().nullable(),
});

export interface UploadPlan {
  objectId: string;
  putUrl: string;
  putHeaders: Record<string, string>;
  /** Seed only: where the object is read (live: asked for after the commit). */
  downloadUrl?: string;
}

export function uploadRequest(
  g: Generation,
  o: { size: number; contentType: string; filename: string; sha256Base64: string },
): Record<string, unknown> {
  return g === "seed"
    ? { content_type: o.contentType, filename: o.filename, size: o.size }
    : { size_bytes: o.size, content_type: o.contentType, checksum_sha256: o.sha256Base64 };
}

export function parseUploadPlan(g: Generation, body: unknown, contentType: string): UploadPlan | undefined {
  if (g === "seed") {
    const r = seedUpload.safeParse(body);
    return r.success
      ? {
          objectId: r.data.object_id,
          putUrl: r.data.upload_url,
          putHeaders: { "content-type": contentType },
          downloadUrl: r.data.download_url,
        }
      : undefined;
  }
  const r = liveUpload.safeParse(body);
  if (!r.success) return undefined;
  // The signature covers these headers: sent as given, with a content type only when none is.
  const headers: Record<string, string> = { ...r.data.required_headers };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type"))
    headers["content-type"] = contentType;
  return { objectId: r.data.payload_object_id, putUrl: r.data.presigned_put_url, putHeaders: headers };
}

/** The read URL of an object lookup: `download_url` (seed) or `presigned_get_url` (live). */
export function parseDownload(g: Generation, body: unknown): string | undefined {
  const b = body as { download_url?: unknown; presigned_get_url?: unknown } | null;
  const v = g === "seed" ? b?.download_url : (b?.presigned_get_url ?? b?.download_url);
  return typeof v === "string" && v.length <= 4096 && /^https?:\/\//.test(v) ? v : undefined;
}

/**
 * An uploaded file in an answer's `attachments`: seed `{object_id, download_url}`, live
 * `{payload_object_id, presigned_get_url}` (what the 1.1.0 plugin reads), beside name, type, size.
 */
export function attachmentWire(
  g: Generation,
  a: { name: string; object_id: string; content_type: string; size: number; download_url?: string },
): Record<string, unknown> {
  if (g === "seed") return { ...a };
  return {
    name: a.name,
    payload_object_id: a.object_id,
    content_type: a.content_type,
    size: a.size,
    ...(a.download_url ? { presigned_get_url: a.download_url } : {}),
  };
}
