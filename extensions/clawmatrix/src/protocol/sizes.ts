import { isUtf8 } from "node:buffer";
import { encodeFrame, MAX_DEPTH, nestedDeeperThan, type RoutedFrame } from "./frames.ts";
import { ORIGIN_SIG_BYTES } from "./origin-sign.ts";
import { MAX_PLAINTEXT_BYTES } from "./session.ts";

/**
 * PROTOCOL §1 "Sizes": every limit is counted in the bytes that go on the wire, i.e. after JSON
 * encoding, where a control character becomes six bytes (`\u0001`). Pure.
 */

/** Room kept for a frame's envelope (ids, kind, field names) around a capped payload. */
export const FRAME_ENVELOPE_BYTES = 64 * 1024;
/** The largest tool output a node may be configured to send (`toolProxy.maxOutputBytes`). */
export const MAX_TOOL_OUTPUT_BYTES = MAX_PLAINTEXT_BYTES - FRAME_ENVELOPE_BYTES;
/** Streamed data is sent in chunks of at most this many bytes (raw UTF-8, PROTOCOL §3a). */
export const MAX_CHUNK_DATA_BYTES = 1024 * 1024;

/** Bytes one code point takes inside a JSON string, UTF-8 encoded. */
function encodedSize(cp: number): number {
  if (cp === 0x22 || cp === 0x5c) return 2; // \" and \\
  if (cp < 0x20) return cp === 8 || cp === 9 || cp === 10 || cp === 12 || cp === 13 ? 2 : 6;
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp >= 0xd800 && cp <= 0xdfff) return 6; // a lone surrogate is escaped by JSON.stringify
  if (cp < 0x10000) return 3;
  return 4;
}

/** Bytes of `text` as a JSON string on the wire, without the quotes. */
export function encodedLength(text: string): number {
  // The native encoder counts it far faster than a loop over code points (sizes.test.ts checks
  // that both agree on every kind of character); the quotes are not counted.
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** The longest prefix of `text` whose encoded size is at most `max`, cut on a code point. */
export function cutEncoded(text: string, max: number): { head: string; rest: string } {
  let n = 0;
  let i = 0;
  for (const ch of text) {
    const s = encodedSize(ch.codePointAt(0) as number);
    if (n + s > max) break;
    n += s;
    i += ch.length;
  }
  return { head: text.slice(0, i), rest: text.slice(i) };
}

/**
 * Streamed data as the UTF-8 bytes a chunk carries (PROTOCOL §3a): text encoded (a lone surrogate
 * becomes U+FFFD), bytes passed as they are when they are valid UTF-8 (a native check), and
 * otherwise decoded and encoded again, so that every chunk this node starts is valid UTF-8 and its
 * origin proof covers the same bytes whichever way a peer reads them.
 */
export function utf8Bytes(data: string | Uint8Array): Buffer {
  if (typeof data === "string") return Buffer.from(data);
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return isUtf8(b) ? b : Buffer.from(b.toString("utf8"));
}

/**
 * UTF-8 `bytes` in pieces of at most `max` bytes, each cut before a character's first byte, so
 * that every piece is valid UTF-8 on its own (one piece, not copied, when it fits).
 */
export function splitUtf8(bytes: Buffer, max = MAX_CHUNK_DATA_BYTES): Buffer[] {
  if (bytes.length <= max) return [bytes];
  const out: Buffer[] = [];
  let from = 0;
  while (bytes.length - from > max) {
    let cut = from + max;
    // Back over continuation bytes (10xxxxxx): at most 3 in valid UTF-8; every piece holds a byte.
    const least = Math.max(from + 1, cut - 3);
    while (cut > least && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
    out.push(bytes.subarray(from, cut));
    from = cut;
  }
  out.push(bytes.subarray(from));
  return out;
}

/**
 * `f` encoded as it goes on the wire (its plaintext, PROTOCOL §3a), or why it must not be sent: a
 * peer would refuse it for its size (with the origin proof route() may add) or its nesting, or it
 * cannot be encoded at all (JSON.stringify overflows the stack on a very deep value). PROTOCOL §1:
 * no node sends a frame its peer must refuse. The bytes go to route(), so the frame is encoded once.
 */
export function encodeChecked(
  f: RoutedFrame,
  what: string,
): { ok: true; plain: Buffer } | { ok: false; why: string } {
  // The JSON is the plaintext of every frame but a chunk (§3a), whose raw data it only bounds
  // from above; requests and answers are what this is asked about.
  let text: string;
  try {
    text = encodeFrame(f);
  } catch (err) {
    return {
      ok: false,
      why: `${what} cannot be encoded (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  const size = Buffer.byteLength(text) + ORIGIN_SIG_BYTES;
  if (size > MAX_PLAINTEXT_BYTES)
    return { ok: false, why: `${what} of ${size} bytes is over the frame limit (${MAX_PLAINTEXT_BYTES})` };
  if (nestedDeeperThan(text, MAX_DEPTH))
    return { ok: false, why: `${what} is nested deeper than ${MAX_DEPTH} arrays or objects` };
  return { ok: true, plain: Buffer.from(text) };
}
