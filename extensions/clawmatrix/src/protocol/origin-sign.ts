import { createHash } from "node:crypto";
import type { RoutedFrame } from "./frames.ts";
import { type NodeKey, verifySignature } from "./identity.ts";

/**
 * PROTOCOL §6a: every routed frame (request, cancel, answer, chunk, end) is signed by the node in
 * `src`, and the node in `dst` checks the signature before acting on it, so no member (a relay
 * included) can ask in another node's name, send work's answers to a node that never asked, or
 * forge an answer to a request it saw pass. Pure.
 */

/** What a signature adds to a frame's JSON at most (`,"sig":"<86 base64url>"`), for size checks. */
export const ORIGIN_SIG_BYTES = 96;

const digest = (v: unknown) =>
  createHash("sha256")
    .update(JSON.stringify(v) ?? "null")
    .digest("base64url");

/**
 * What `src` signs: the frame's type, identity and routing fields, and SHA-256 digests of its
 * content (a body as its JSON, chunk data as its JSON string, an error as `code|message`).
 * `ttl` is left out: relays lower it.
 */
export function routedPayload(f: RoutedFrame): string {
  const head = `clawmatrix/3|${f.t}|${f.id}|${f.src}|${f.dst}`;
  const error = (e: { code: string; message: string } | undefined) =>
    e ? digest(`${e.code}|${e.message}`) : "-";
  switch (f.t) {
    case "req":
      return `${head}|${f.kind}|${digest(f.body)}`;
    case "cancel":
      return `${head}|${f.re}`;
    case "res":
      return `${head}|${f.re}|${f.ok ? 1 : 0}|${digest(f.body)}|${error(f.error)}`;
    case "chunk":
      return `${head}|${f.re}|${f.n}|${digest(f.data)}`;
    case "end":
      return `${head}|${f.re}|${f.ok ? 1 : 0}|${error(f.error)}`;
  }
}

export function signRouted<F extends RoutedFrame>(key: NodeKey, f: F): F {
  return { ...f, sig: key.sign(routedPayload(f)) };
}

/** True when `f.sig` verifies under one of `keys` (the keys `f.src` is known by). */
export function routedSignedBy(keys: readonly string[] | undefined, f: RoutedFrame): boolean {
  if (!keys || !f.sig) return false;
  const data = routedPayload(f);
  const sig = f.sig;
  return keys.some((k) => verifySignature(k, data, sig));
}
