import { createHash } from "node:crypto";
import type { FrameOf } from "./frames.ts";
import { type NodeKey, verifySignature } from "./identity.ts";

/**
 * PROTOCOL §6a: a routed request and its cancel are signed by the node in `src`, and the node in
 * `dst` checks the signature before serving or cancelling, so no member (a relay included) can
 * ask in another node's name or send work's answers to a node that never asked. Pure.
 */

type Signed = FrameOf<"req"> | FrameOf<"cancel">;

/** What `src` signs: the frame's identity and, for a request, a SHA-256 of its body's JSON. */
export function routedPayload(f: Signed): string {
  if (f.t === "cancel") return `clawmatrix/3|cancel|${f.id}|${f.src}|${f.dst}|${f.re}`;
  const body = createHash("sha256")
    .update(JSON.stringify(f.body) ?? "null")
    .digest("base64url");
  return `clawmatrix/3|req|${f.id}|${f.src}|${f.dst}|${f.kind}|${body}`;
}

export function signRouted<F extends Signed>(key: NodeKey, f: F): F {
  return { ...f, sig: key.sign(routedPayload(f)) };
}

/** True when `f.sig` verifies under one of `keys` (the keys `f.src` is known by). */
export function routedSignedBy(keys: readonly string[] | undefined, f: Signed): boolean {
  if (!keys || !f.sig) return false;
  const data = routedPayload(f);
  const sig = f.sig;
  return keys.some((k) => verifySignature(k, data, sig));
}
