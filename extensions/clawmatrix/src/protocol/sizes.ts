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
/** Streamed data is sent in chunks of at most this many encoded bytes. */
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

/** The most bytes one UTF-16 unit takes encoded (a control character or a lone surrogate, `\uXXXX`). */
export const MAX_UNIT_BYTES = 6;

/** An upper bound of `encodedLength(text)` that costs nothing: no scan of the text. */
export function encodedLengthBound(text: string): number {
  return text.length * MAX_UNIT_BYTES;
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

/** `text` in pieces of at most `max` encoded bytes each (one empty piece for empty text). */
export function splitEncoded(text: string, max = MAX_CHUNK_DATA_BYTES): string[] {
  // Most streamed data is far below the limit: no scan, or one native one, tells so.
  if (encodedLengthBound(text) <= max || encodedLength(text) <= max) return [text];
  const out: string[] = [];
  let rest = text;
  do {
    const c = cutEncoded(rest, max);
    // A code point bigger than `max` still moves on, so the loop always ends.
    const first = rest.codePointAt(0);
    const step = c.head || (first === undefined ? "" : String.fromCodePoint(first));
    out.push(step);
    rest = rest.slice(step.length);
  } while (rest.length > 0);
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
