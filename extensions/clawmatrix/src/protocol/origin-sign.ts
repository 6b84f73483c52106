import { createHash, createHmac, type KeyObject, timingSafeEqual } from "node:crypto";
import { chunkBytes, PROTOCOL_VERSION, type RoutedFrame, withFields } from "./frames.ts";
import { type NodeKey, verifySignature } from "./identity.ts";

/**
 * PROTOCOL §6a: the origin proof of a relayed routed frame (request, cancel, answer, chunk, end),
 * so that no member (a relay included) can ask in another node's name, send work's answers to a
 * node that never asked, or forge an answer to a request it saw pass. The proof is `mac`, an
 * HMAC-SHA256 under the pair key of `src` and `dst` (pair-key.ts), or, when `dst`'s state
 * publishes no X25519 key, `sig`, an Ed25519 signature by `src`. Pure.
 */

/** What a proof adds to a frame's JSON at most (`,"sig":"<86 base64url>"`), for size checks. */
export const ORIGIN_SIG_BYTES = 96;

const V = `clawmatrix/${PROTOCOL_VERSION}`;

/**
 * The frame's fields a proof covers, as a JSON array (so no field can run into the next), then
 * its content: a body as its JSON (nothing when absent), chunk data as its bytes on the wire
 * (its UTF-8 text; a chunk's bytes are never decoded for its proof). `ttl` is left out: relays
 * lower it.
 */
function covered(f: RoutedFrame): [head: string, content: string | Buffer] {
  const err = (e: { code: string; message: string } | undefined) => (e ? [e.code, e.message] : null);
  switch (f.t) {
    case "req":
      return [JSON.stringify([V, f.t, f.id, f.src, f.dst, f.kind]), JSON.stringify(f.body) ?? ""];
    case "cancel":
      return [JSON.stringify([V, f.t, f.id, f.src, f.dst, f.re]), ""];
    case "res":
      return [
        JSON.stringify([V, f.t, f.id, f.src, f.dst, f.re, f.ok, err(f.error)]),
        JSON.stringify(f.body) ?? "",
      ];
    case "chunk":
      return [JSON.stringify([V, f.t, f.id, f.src, f.dst, f.re, f.n]), chunkBytes(f)];
    case "end":
      return [JSON.stringify([V, f.t, f.id, f.src, f.dst, f.re, f.ok, err(f.error)]), ""];
  }
}

function tag(key: KeyObject, f: RoutedFrame): Buffer {
  const [head, content] = covered(f);
  return createHmac("sha256", key).update(head).update(content).digest();
}

/** `f` with its `mac` under `key`, the pair key of `f.src` and `f.dst`. */
export function macRouted<F extends RoutedFrame>(key: KeyObject, f: F): F {
  return withFields(f, { mac: tag(key, f).toString("base64url") });
}

/** True only when `f.mac` is the HMAC of `f` under `key`; constant-time, never throws. */
export function routedMacOk(key: KeyObject, f: RoutedFrame): boolean {
  if (!f.mac) return false;
  const got = Buffer.from(f.mac, "base64url");
  const want = tag(key, f);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** What an Ed25519 proof signs: the covered fields with the content's SHA-256. */
export function routedPayload(f: RoutedFrame): string {
  const [head, content] = covered(f);
  return `${head}|${createHash("sha256").update(content).digest("base64url")}`;
}

export function signRouted<F extends RoutedFrame>(key: NodeKey, f: F): F {
  return withFields(f, { sig: key.sign(routedPayload(f)) });
}

/** True when `f.sig` verifies under one of `keys` (the keys `f.src` is known by). */
export function routedSignedBy(keys: readonly string[] | undefined, f: RoutedFrame): boolean {
  if (!keys || !f.sig) return false;
  const data = routedPayload(f);
  const sig = f.sig;
  return keys.some((k) => verifySignature(k, data, sig));
}
