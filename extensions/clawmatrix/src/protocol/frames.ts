import { z } from "zod";
import { publicKeyText, signatureText } from "./identity.ts";

/** An X25519 public key (PROTOCOL §6a), or an HMAC-SHA256 tag: 32 bytes in base64url, no padding. */
export const key32Text = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

/** PROTOCOL §2: frame schemas and a codec that never throws on bad input. */

/**
 * v5: a chunk's data travels after its frame's JSON as raw UTF-8 (§3a), not escaped inside it.
 * Since v4, relayed frames prove their origin with an HMAC under a per node-pair key
 * (pair-key.ts), each node's X25519 key published in its signed gossip state. v4 (chunk data in
 * the JSON), v3 (Ed25519 on every relayed frame), v2 (no identity) and v1 (frames in clear after
 * the handshake) are refused by name.
 */
export const PROTOCOL_VERSION = 5;
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const MAX_TTL = 8;
/**
 * Arrays and objects inside one another, at most: a body nested a million deep parses, but
 * JSON.stringify, which a relay and every handler run, overflows the stack on it.
 */
export const MAX_DEPTH = 64;

export const nodeId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
const frameId = z.string().min(8).max(64);
// base64url only: nonces are joined with "|" into proofs and key derivation (PROTOCOL §3).
const nonce = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/);
const proof = z.string().min(16).max(128);
const errorBody = z.object({ code: z.string().max(64), message: z.string().max(2000) });

const routed = {
  id: frameId,
  src: nodeId,
  dst: nodeId,
  ttl: z.number().int().min(0).max(MAX_TTL),
  /**
   * The origin proof of a relayed frame (PROTOCOL §6a): `mac` under the pair key of `src` and
   * `dst`, or `sig` by `src`'s identity key; neither on a frame sent straight to `dst`.
   */
  mac: key32Text.optional(),
  sig: signatureText.optional(),
};

const agentInfo = z.object({
  id: z.string().min(1).max(128),
  description: z.string().max(2000).optional(),
  tags: z.array(z.string().max(64)).max(64).default([]),
});
export const nodeState = z.object({
  agents: z.array(agentInfo).max(256).default([]),
  models: z
    .array(z.object({ id: z.string().min(1).max(128), description: z.string().max(2000).optional() }))
    .max(256)
    .default([]),
  tags: z.array(z.string().max(64)).max(64).default([]),
  links: z
    .array(z.object({ node: nodeId, rtt: z.number().min(0).max(600_000) }))
    .max(1024)
    .default([]),
  toolProxy: z.boolean().default(false),
  /** The node's X25519 public key for pair keys (PROTOCOL §6a), vouched for by the gossip signature. */
  dh: key32Text.optional(),
});
export type NodeState = z.infer<typeof nodeState>;

/** Entries in a `digest`: above the table's MAX_NODES (1024), so an honest one always fits. */
export const MAX_DIGEST_ENTRIES = 2048;

const frameSchema = z.discriminatedUnion("t", [
  // `key` and `sig` are optional in the schema only so that an older node's hello or challenge
  // parses and is refused by its version (§4); the v3+ machines require them.
  z.object({
    t: z.literal("hello"),
    v: z.number().int(),
    node: nodeId,
    nonce,
    key: publicKeyText.optional(),
  }),
  z.object({
    t: z.literal("challenge"),
    v: z.number().int(),
    node: nodeId,
    nonce,
    proof,
    key: publicKeyText.optional(),
    sig: signatureText.optional(),
  }),
  z.object({ t: z.literal("auth"), proof, sig: signatureText }),
  z.object({ t: z.literal("welcome") }),
  z.object({ t: z.literal("error"), code: z.string().max(64), message: z.string().max(2000) }),
  z.object({ t: z.literal("ping"), ts: z.number() }),
  z.object({ t: z.literal("pong"), ts: z.number() }),
  z.object({
    t: z.literal("gossip"),
    id: frameId,
    origin: nodeId,
    seq: z.number().int().min(0),
    ttl: z.number().int().min(0).max(MAX_TTL),
    state: nodeState,
    leaving: z.boolean().optional(),
    /** The origin's key and its signature over the state (PROTOCOL §5a). */
    key: publicKeyText,
    sig: signatureText,
  }),
  /** What the sender holds, sent once on link-up: the other side sends only what is newer (§5). */
  z.object({
    t: z.literal("digest"),
    known: z.array(z.object({ origin: nodeId, seq: z.number().int().min(0) })).max(MAX_DIGEST_ENTRIES),
  }),
  z.object({
    t: z.literal("req"),
    ...routed,
    kind: z.enum(["chat", "handoff", "tool", "send"]),
    body: z.unknown(),
  }),
  z.object({
    t: z.literal("res"),
    ...routed,
    re: frameId,
    ok: z.boolean(),
    body: z.unknown().optional(),
    error: errorBody.optional(),
  }),
  z.object({
    t: z.literal("chunk"),
    ...routed,
    re: frameId,
    n: z.number().int().min(0),
    data: z.string().max(MAX_FRAME_BYTES),
  }),
  z.object({
    t: z.literal("end"),
    ...routed,
    re: frameId,
    ok: z.boolean(),
    error: errorBody.optional(),
  }),
  z.object({ t: z.literal("cancel"), ...routed, re: frameId }),
]);

export type Frame = z.infer<typeof frameSchema>;
export type FrameOf<T extends Frame["t"]> = Extract<Frame, { t: T }>;
export type RoutedFrame = FrameOf<"req" | "res" | "chunk" | "end" | "cancel">;
export type RequestKind = FrameOf<"req">["kind"];

type DecodeResult = { ok: true; frame: Frame } | { ok: false; reason: string };

/** Bytes or text from the socket -> a checked frame, or the reason it was dropped. */
export function decodeFrame(data: string | Buffer, isBinary = false): DecodeResult {
  if (isBinary) return { ok: false, reason: "binary message" };
  const text = typeof data === "string" ? data : data.toString("utf8");
  if (text.length > MAX_FRAME_BYTES)
    return { ok: false, reason: `frame of ${text.length} bytes over the limit` };
  const raw = parseJson(text);
  return raw.ok ? checkFrame(raw.value) : raw;
}

const LINE_FEED = 0x0a;

/**
 * A sealed frame's plaintext (PROTOCOL §3a) -> a checked frame: its JSON, and for a chunk, the
 * data after the JSON's end, marked by the first line feed (JSON.stringify never writes one raw),
 * as UTF-8. Neither the nesting scan nor JSON.parse goes over the data.
 */
export function decodeFrameBytes(plain: Buffer): DecodeResult {
  if (plain.length > MAX_FRAME_BYTES)
    return { ok: false, reason: `frame of ${plain.length} bytes over the limit` };
  const end = plain.indexOf(LINE_FEED);
  if (end < 0) return decodeFrame(plain);
  const head = parseJson(plain.toString("utf8", 0, end));
  if (!head.ok) return head;
  const h = head.value as { t?: unknown; data?: unknown } | null;
  if (typeof h !== "object" || h === null || h.t !== "chunk")
    return { ok: false, reason: "data after a frame's JSON, which only a chunk may carry" };
  if ("data" in h) return { ok: false, reason: "a chunk with data both in its JSON and after it" };
  // The header is checked with empty data; the data's own bound is the plaintext's, checked above.
  const r = checkFrame({ ...h, data: "" });
  return r.ok ? { ok: true, frame: withRawData(r.frame as FrameOf<"chunk">, plain.subarray(end + 1)) } : r;
}

/**
 * The data bytes of chunks decoded from the wire (PROTOCOL §3a). A relay forwards them as they
 * came, and the text is decoded only when something reads `data`: a relayed chunk's data is
 * never decoded nor encoded again (issue 17's relay fast path).
 */
const rawData = new WeakMap<object, Buffer>();

/** `f`'s data becomes `raw`, decoded as UTF-8 on first read (a lone invalid byte reads as U+FFFD). */
function withRawData<F extends FrameOf<"chunk">>(f: F, raw: Buffer): F {
  let text: string | undefined;
  Object.defineProperty(f, "data", {
    enumerable: true,
    configurable: true,
    get: () => {
      text ??= raw.toString("utf8");
      return text;
    },
  });
  rawData.set(f, raw);
  return f;
}

/**
 * A chunk whose data is `bytes` (UTF-8) as they are: they go on the wire without being decoded
 * or encoded again (PROTOCOL §3a). The text is decoded only if something reads `data`.
 */
export function chunkOfBytes(head: Omit<FrameOf<"chunk">, "data">, bytes: Buffer): FrameOf<"chunk"> {
  return withRawData({ ...head, data: "" }, bytes);
}

/** A chunk's data as bytes: as they came from the wire, or its text encoded. */
export function chunkBytes(f: FrameOf<"chunk">): Buffer {
  return rawData.get(f) ?? Buffer.from(f.data);
}

/** A frame's fields but `data`, without reading it (reading a decoded chunk's data decodes it). */
function headOf(frame: FrameOf<"chunk">): Omit<FrameOf<"chunk">, "data"> {
  const head: Record<string, unknown> = {};
  for (const k of Object.keys(frame)) if (k !== "data") head[k] = frame[k as keyof typeof frame];
  return head as Omit<FrameOf<"chunk">, "data">;
}

/**
 * A copy of `f` with some of its other fields changed (a lower `ttl`, an origin proof). A chunk
 * that holds its data as bytes keeps them: the copy neither decodes nor encodes them.
 */
export function withFields<F extends RoutedFrame>(f: F, fields: Partial<Omit<RoutedFrame, "data">>): F {
  const raw = f.t === "chunk" ? rawData.get(f) : undefined;
  if (!raw) return { ...f, ...fields };
  return withRawData({ ...headOf(f as FrameOf<"chunk">), ...fields, data: "" } as FrameOf<"chunk">, raw) as F;
}

/**
 * A routed frame as a relay sends it on: `ttl` lowered, all else as it came. A chunk decoded
 * from the wire keeps its data's bytes, so the relay copies them and never decodes them.
 */
export function relayed<F extends RoutedFrame>(f: F, ttl: number): F {
  return withFields(f, { ttl });
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (nestedDeeperThan(text, MAX_DEPTH))
    return { ok: false, reason: `frame nested deeper than ${MAX_DEPTH} arrays or objects` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: "not JSON" };
  }
}

function checkFrame(raw: unknown): DecodeResult {
  const r = frameSchema.safeParse(raw);
  if (!r.success) {
    const t = typeof raw === "object" && raw !== null ? (raw as { t?: unknown }).t : undefined;
    const issue = r.error.issues[0];
    return {
      ok: false,
      reason:
        `bad ${typeof t === "string" ? `"${t.slice(0, 32)}"` : "untyped"} frame: ${issue?.path.join(".") || "(root)"} ${issue?.message ?? ""}`.trim(),
    };
  }
  return { ok: true, frame: r.data };
}

/** Whether JSON text opens more than `limit` arrays or objects inside one another (strings skipped). */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A frame as JSON text: what the handshake sends before the link is sealed. */
export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/**
 * A frame as a sealed message's plaintext (PROTOCOL §3a): its JSON; a chunk's data follows a
 * line feed as raw UTF-8, so streamed text is neither escaped nor encoded twice. A lone
 * surrogate in the data becomes U+FFFD, as in any UTF-8 (the origin proof covers the same bytes).
 */
export function encodeFrameBytes(frame: Frame): Buffer {
  if (frame.t !== "chunk") return Buffer.from(JSON.stringify(frame));
  const raw = rawData.get(frame);
  const json = JSON.stringify(headOf(frame));
  const headBytes = Buffer.byteLength(json);
  const dataBytes = raw ? raw.length : Buffer.byteLength(frame.data);
  const out = Buffer.allocUnsafe(headBytes + 1 + dataBytes);
  out.write(json, 0);
  out[headBytes] = LINE_FEED;
  if (raw) raw.copy(out, headBytes + 1);
  else out.write(frame.data, headBytes + 1);
  return out;
}

export function isRouted(f: Frame): f is RoutedFrame {
  return f.t === "req" || f.t === "res" || f.t === "chunk" || f.t === "end" || f.t === "cancel";
}
