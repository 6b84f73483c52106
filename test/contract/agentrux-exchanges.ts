/**
 * What the official AgenTrux plugin sends and reads, per generation, as scripted exchanges: the
 * request as the real client builds it, and what it needs of the answer. Written from the public
 * sources of agentrux/agentrux-plugins (folder openclaw/, and sdk/ for 1.1.0), read with `fetch`;
 * each exchange names the file and commit it comes from. Nothing here is their code.
 *
 * seed = plugin 0.14.5 (commit df97788, the code behind seed 000's README);
 * live = plugin 1.1.0 (commit a63628c; the same files at the newest commit a41f8d6).
 *
 * Placeholders `{name}` in paths, query values and string body values are filled from the run's
 * context: values set up by the test or kept from earlier answers (`keep`).
 */

export type Kind = "string" | "number" | "boolean" | "object" | "array" | "null";

export interface Exchange {
  step: string;
  /** path @ commit (function): where the real client does this. */
  source: string;
  method: "GET" | "POST" | "PUT";
  /** A path on the broker, or `{name}` alone: an absolute URL from the context (a presigned one). */
  path: string;
  query?: Record<string, string>;
  /** `optional`: fields the real client leaves out when it has no value for them. */
  body?: { kind: "json" | "form"; fields: Record<string, unknown>; optional?: string[] };
  headers?: Record<string, string>;
  /** PUT only: the bytes, and the context value holding the headers to send (the signed ones). */
  upload?: { bytes: string; headersFrom?: string; contentType?: string };
  /** The answer's content type starts with this. */
  answerType?: string;
  /** Sent with the bearer token of the run. */
  auth: boolean;
  status: number;
  /** What the real client reads of the answer: dotted path -> kind (`events.0.cursor`). */
  reads?: Record<string, Kind>;
  /** Context values taken from the answer: name -> dotted path. */
  keep?: Record<string, string>;
  /** The answer's events (items or events) must hold the event whose id is this context value. */
  includesEvent?: string;
  /** The project's client sends this request too, and must send it the same way. */
  project?: boolean;
}

const SEED = "df97788";
const LIVE = "a63628c";

export const SEED_EXCHANGES: Exchange[] = [
  {
    step: "activate",
    source: `openclaw/src/activation-core.ts @ ${SEED} (callActivate: POST /auth/activate, reads script_id, client_secret, grants)`,
    method: "POST",
    path: "/auth/activate",
    body: { kind: "json", fields: { activation_code: "{code}" } },
    auth: false,
    status: 200,
    reads: { script_id: "string", client_secret: "string", grants: "array" },
    keep: { script_id: "script_id", client_secret: "client_secret" },
    project: true,
  },
  {
    step: "token",
    source: `openclaw/src/http-client.ts @ ${SEED} (ensureToken: full re-auth with client_secret)`,
    method: "POST",
    path: "/auth/token",
    body: { kind: "json", fields: { script_id: "{script_id}", client_secret: "{client_secret}" } },
    auth: false,
    status: 200,
    reads: { access_token: "string", refresh_token: "string", expires_at: "string" },
    keep: { token: "access_token", refresh: "refresh_token" },
    project: true,
  },
  {
    step: "refresh",
    source: `openclaw/src/http-client.ts @ ${SEED} (ensureToken: /auth/refresh with the cached refresh_token)`,
    method: "POST",
    path: "/auth/refresh",
    body: { kind: "json", fields: { refresh_token: "{refresh}" } },
    auth: false,
    status: 200,
    reads: { access_token: "string", refresh_token: "string", expires_at: "string" },
    keep: { token: "access_token" },
  },
  {
    step: "publish",
    source: `openclaw/src/http-client.ts @ ${SEED} (publishEvent: {type, payload} -> event_id); openclaw/src/index.ts @ ${SEED} (agentrux_publish: correlation_id and reply_topic only when given)`,
    method: "POST",
    path: "/topics/{result}/events",
    body: {
      kind: "json",
      fields: {
        type: "openclaw.response",
        payload: { request_id: "r1" },
        correlation_id: "c0",
        reply_topic: "{result}",
      },
      optional: ["correlation_id", "reply_topic"],
    },
    auth: true,
    status: 200,
    reads: { event_id: "string" },
    keep: { published: "event_id" },
    project: true,
  },
  {
    step: "publish with correlation and reply topic",
    source: `openclaw/src/index.ts @ ${SEED} (agentrux_send_message: {type, payload, correlation_id, reply_topic})`,
    method: "POST",
    path: "/topics/{result}/events",
    body: {
      kind: "json",
      fields: {
        type: "message.request",
        payload: { text: "hi" },
        correlation_id: "c1",
        reply_topic: "{result}",
      },
    },
    auth: true,
    status: 200,
    reads: { event_id: "string" },
    project: true,
  },
  {
    step: "pull after a sequence number",
    source: `openclaw/src/http-client.ts @ ${SEED} (pullEvents: ?after_sequence_no=N&limit=20 -> items)`,
    method: "GET",
    path: "/topics/{command}/events",
    query: { after_sequence_no: "0", limit: "20" },
    auth: true,
    status: 200,
    reads: {
      items: "array",
      "items.0.event_id": "string",
      "items.0.sequence_no": "number",
      "items.0.type": "string",
      "items.0.payload": "object",
    },
    project: true,
  },
  {
    step: "pull without a cursor answers the newest events",
    source: `openclaw/src/index.ts @ ${SEED} (agentrux_send_message: GET /topics/{reply}/events?limit=20, matches correlation_id)`,
    method: "GET",
    path: "/topics/{command}/events",
    query: { limit: "20" },
    auth: true,
    status: 200,
    reads: { items: "array" },
    includesEvent: "newest",
  },
  {
    step: "upload registration",
    source: `openclaw/src/http-client.ts @ ${SEED} (uploadFile: {content_type, filename, size} -> object_id, upload_url, download_url?)`,
    method: "POST",
    path: "/topics/{result}/payloads",
    body: { kind: "json", fields: { content_type: "text/plain", filename: "a.txt", size: 5 } },
    auth: true,
    status: 200,
    reads: { object_id: "string", upload_url: "string" },
    keep: { putUrl: "upload_url" },
    project: true,
  },
  {
    step: "PUT the bytes",
    source: `openclaw/src/http-client.ts @ ${SEED} (uploadFile step 2: PUT upload_url with Content-Type)`,
    method: "PUT",
    path: "{putUrl}",
    upload: { bytes: "hello", contentType: "text/plain" },
    auth: false,
    status: 200,
  },
  {
    step: "hint stream",
    source: `openclaw/src/gateway.ts @ ${SEED} (sseLoop: /events/stream?after_sequence_no=N, 200 text/event-stream)`,
    method: "GET",
    path: "/topics/{command}/events/stream",
    query: { after_sequence_no: "0" },
    headers: { accept: "text/event-stream" },
    auth: true,
    status: 200,
    answerType: "text/event-stream",
    project: true,
  },
];

export const LIVE_EXCHANGES: Exchange[] = [
  {
    step: "redeem an activation code",
    source: `openclaw/src/activation-core.ts @ ${LIVE} (POST /auth/redeem-activation-code {code} -> client_id, client_secret)`,
    method: "POST",
    path: "/auth/redeem-activation-code",
    body: { kind: "json", fields: { code: "{code}" } },
    auth: false,
    status: 200,
    reads: { client_id: "string", client_secret: "string" },
    keep: { client_id: "client_id", client_secret: "client_secret" },
    project: true,
  },
  {
    step: "token",
    source: `openclaw/src/http-client.ts @ ${LIVE} (ensureToken: form client_credentials -> access_token, expires_in)`,
    method: "POST",
    path: "/oauth/token",
    body: {
      kind: "form",
      fields: {
        grant_type: "client_credentials",
        client_id: "{client_id}",
        client_secret: "{client_secret}",
      },
    },
    auth: false,
    status: 200,
    reads: { access_token: "string", expires_in: "number" },
    keep: { token: "access_token" },
    project: true,
  },
  {
    step: "publish",
    source: `openclaw/src/http-client.ts @ ${LIVE} (publishEvent: {event_type, payload, metadata?} -> event_id)`,
    method: "POST",
    path: "/topics/{result}/events",
    body: {
      kind: "json",
      fields: {
        event_type: "openclaw.response",
        payload: { request_id: "r1" },
        metadata: { correlation_id: "c1" },
      },
    },
    auth: true,
    status: 201,
    reads: { event_id: "string" },
    keep: { published: "event_id" },
    project: true,
  },
  {
    step: "skip to the newest event",
    source: `openclaw/src/gateway.ts @ ${LIVE} (startAccount: pullEvents(null, 1, "desc", excludeSelf) -> events[0].cursor || event_id)`,
    method: "GET",
    path: "/topics/{command}/events",
    query: { limit: "1", order: "desc", exclude_self: "true" },
    auth: true,
    status: 200,
    reads: { events: "array", "events.0.event_id": "string", "events.0.cursor": "string" },
    keep: { newestCursor: "events.0.cursor" },
    includesEvent: "newest",
    project: true,
  },
  {
    step: "pull after a cursor, leaving out own events",
    source: `openclaw/src/http-client.ts @ ${LIVE} (pullEvents: ?limit&order&after&exclude_self -> events), sdk/src/agentrux_sdk/pull_client.py (next)`,
    method: "GET",
    path: "/topics/{command}/events",
    query: { limit: "20", order: "asc", after: "{firstCursor}", exclude_self: "true" },
    auth: true,
    status: 200,
    reads: {
      events: "array",
      "events.0.event_id": "string",
      "events.0.event_type": "string",
      "events.0.payload": "object",
      "events.0.cursor": "string",
      next: "object",
    },
    project: true,
  },
  {
    step: "pull after an expired cursor",
    source: `openclaw/src/http-client.ts @ ${LIVE} (isTtlExpiredCursor, extractOldestAvailable: 404 detail.details.reason ttl_expired)`,
    method: "GET",
    path: "/topics/{command}/events",
    query: { limit: "20", order: "asc", after: "{evictedId}", exclude_self: "true" },
    auth: true,
    status: 404,
    reads: {
      "detail.details.reason": "string",
      "detail.details.oldest_available_evt_id": "string",
      "detail.next_action": "string",
    },
    project: true,
  },
  {
    step: "upload registration",
    source: `openclaw/src/http-client.ts @ ${LIVE} (uploadFile: {size_bytes, content_type, checksum_sha256 base64} -> payload_object_id, presigned_put_url, required_headers)`,
    method: "POST",
    path: "/topics/{result}/payloads",
    body: {
      kind: "json",
      fields: {
        size_bytes: 3,
        content_type: "text/plain",
        checksum_sha256: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
      },
    },
    auth: true,
    status: 201,
    reads: { payload_object_id: "string", presigned_put_url: "string", required_headers: "object" },
    keep: { pob: "payload_object_id", putUrl: "presigned_put_url", putHeaders: "required_headers" },
    project: true,
  },
  {
    step: "PUT the bytes with the signed headers",
    source: `openclaw/src/http-client.ts @ ${LIVE} (uploadFile step 2: fetch PUT presigned_put_url, headers required_headers)`,
    method: "PUT",
    path: "{putUrl}",
    upload: { bytes: "abc", headersFrom: "putHeaders" },
    auth: false,
    status: 200,
  },
  {
    step: "object lookup before the commit",
    source: `openclaw/src/http-client.ts @ ${LIVE} (uploadFile note: pending until publish_event commits it; GET is 404 before)`,
    method: "GET",
    path: "/topics/{result}/payloads/{pob}",
    auth: true,
    status: 404,
  },
  {
    step: "commit by an event naming the object",
    source: `sdk/src/agentrux_sdk/publish.py @ ${LIVE} (_publish_object_ref step 3: {payload_object_id, event_type, metadata})`,
    method: "POST",
    path: "/topics/{result}/events",
    body: {
      kind: "json",
      fields: { event_type: "openclaw.attachment", payload_object_id: "{pob}", metadata: { filename: "a" } },
    },
    auth: true,
    status: 201,
    reads: { event_id: "string" },
    project: true,
  },
  {
    step: "object lookup after the commit",
    source: `openclaw/src/gateway.ts @ ${LIVE} (resolveAttachments: GET /topics/{id}/payloads/{pob} -> presigned_get_url)`,
    method: "GET",
    path: "/topics/{result}/payloads/{pob}",
    auth: true,
    status: 200,
    reads: { presigned_get_url: "string" },
    project: true,
  },
  {
    step: "hint stream resumed with Last-Event-ID",
    source: `openclaw/src/gateway.ts @ ${LIVE} (sseLoop: ?exclude_self=true, Last-Event-ID header), sdk/src/agentrux_sdk/sse_client.py (event: hint, id:)`,
    method: "GET",
    path: "/topics/{command}/events/stream",
    query: { exclude_self: "true" },
    headers: { accept: "text/event-stream", "last-event-id": "{firstCursor}" },
    auth: true,
    status: 200,
    answerType: "text/event-stream",
    project: true,
  },
  {
    step: "read replies newest first",
    source: `openclaw/src/index.ts @ ${LIVE} (agentrux_send_message: ?limit=20&order=desc, matches metadata.correlation_id)`,
    method: "GET",
    path: "/topics/{command}/events",
    query: { limit: "20", order: "desc" },
    auth: true,
    status: 200,
    reads: { events: "array", "events.0.metadata": "object" },
    includesEvent: "newest",
  },
];
