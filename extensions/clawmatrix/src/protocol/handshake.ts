import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { BoundedSet } from "@openclaw-bundle/shared";
import { type Frame, PROTOCOL_VERSION } from "./frames.ts";
import { deriveKeys, type SessionKeys } from "./session.ts";

/**
 * PROTOCOL §3-4: the mutual HMAC-SHA256 handshake as two pure state machines. They take frames and
 * say what to send and whether the link is authenticated; the socket layer does the I/O.
 */

export const HANDSHAKE_TIMEOUT_MS = 5_000;
const NONCE_MEMORY = 4096;

export type Step =
  | { kind: "send"; frame: Frame }
  | { kind: "done"; peer: string; keys: SessionKeys; send?: Frame }
  | { kind: "fail"; code: "AUTH_FAILED" | "VERSION_MISMATCH"; message: string; send: Frame };

function newNonce(): string {
  return randomBytes(32).toString("base64url");
}

/** The proof one side gives: bound to its role, both node ids, the version and both nonces. */
function proofOf(
  secret: string,
  role: "L" | "D",
  dialer: string,
  listener: string,
  dialerNonce: string,
  listenerNonce: string,
): string {
  return createHmac("sha256", secret)
    .update(`clawmatrix/${PROTOCOL_VERSION}|${role}|${dialer}|${listener}|${dialerNonce}|${listenerNonce}`)
    .digest("base64url");
}

function sameProof(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function fail(code: "AUTH_FAILED" | "VERSION_MISMATCH", message: string): Step {
  return { kind: "fail", code, message, send: { t: "error", code, message } };
}

/** Versions this node refuses by name, with the reason, so an operator knows what to upgrade. */
const RETIRED: Record<number, string> = { 1: "clawmatrix/1 sends frames in clear after the handshake" };

function versionCheck(v: number): Step | undefined {
  if (v === PROTOCOL_VERSION) return undefined;
  const why = RETIRED[v] ? ` (${RETIRED[v]}; upgrade that node)` : "";
  return fail("VERSION_MISMATCH", `peer speaks v${v}, this node speaks v${PROTOCOL_VERSION}${why}`);
}

/** The side that dialed. `expectedPeer` is the node id configured for the URL, if any. */
export class DialerHandshake {
  readonly #secret: string;
  readonly #self: string;
  readonly #expected: string | undefined;
  readonly #nonce: string;
  #peer: string | undefined;
  #listenerNonce: string | undefined;

  constructor(secret: string, self: string, expectedPeer?: string, nonce = newNonce()) {
    this.#secret = secret;
    this.#self = self;
    this.#expected = expectedPeer;
    this.#nonce = nonce;
  }

  hello(): Frame {
    return { t: "hello", v: PROTOCOL_VERSION, node: this.#self, nonce: this.#nonce };
  }

  onFrame(f: Frame): Step {
    if (f.t === "error")
      return fail(
        f.code === "VERSION_MISMATCH" ? "VERSION_MISMATCH" : "AUTH_FAILED",
        `refused by peer: ${f.message}`,
      );
    if (f.t === "challenge" && this.#peer === undefined) {
      const bad = versionCheck(f.v);
      if (bad) return bad;
      if (this.#expected && f.node !== this.#expected)
        return fail("AUTH_FAILED", `expected node ${this.#expected}, the listener says it is ${f.node}`);
      const want = proofOf(this.#secret, "L", this.#self, f.node, this.#nonce, f.nonce);
      if (!sameProof(f.proof, want))
        return fail("AUTH_FAILED", `listener ${f.node} gave a wrong proof (secrets differ?)`);
      this.#peer = f.node;
      this.#listenerNonce = f.nonce;
      return {
        kind: "send",
        frame: { t: "auth", proof: proofOf(this.#secret, "D", this.#self, f.node, this.#nonce, f.nonce) },
      };
    }
    if (f.t === "welcome" && this.#peer !== undefined && this.#listenerNonce !== undefined) {
      const keys = deriveKeys(
        {
          secret: this.#secret,
          dialer: this.#self,
          listener: this.#peer,
          dialerNonce: this.#nonce,
          listenerNonce: this.#listenerNonce,
        },
        "dialer",
      );
      return { kind: "done", peer: this.#peer, keys };
    }
    return fail("AUTH_FAILED", `unexpected "${f.t}" frame during the handshake`);
  }
}

/** Shared by every accepted connection of one node: remembers recent dialer nonces (replays). */
export class NonceMemory {
  readonly #seen = new BoundedSet<string>(NONCE_MEMORY);
  /** True when the nonce is fresh (and remembers it). */
  fresh(nonce: string): boolean {
    if (this.#seen.has(nonce)) return false;
    this.#seen.add(nonce);
    return true;
  }
}

/** The side that accepted the connection. */
export class ListenerHandshake {
  readonly #secret: string;
  readonly #self: string;
  readonly #memory: NonceMemory;
  readonly #nonce: string;
  #dialer: { node: string; nonce: string } | undefined;

  constructor(secret: string, self: string, memory: NonceMemory, nonce = newNonce()) {
    this.#secret = secret;
    this.#self = self;
    this.#memory = memory;
    this.#nonce = nonce;
  }

  onFrame(f: Frame): Step {
    if (f.t === "error") return fail("AUTH_FAILED", `the dialer refused: ${f.message}`);
    if (f.t === "hello" && this.#dialer === undefined) {
      const bad = versionCheck(f.v);
      if (bad) return bad;
      if (f.node === this.#self) return fail("AUTH_FAILED", `dialer claims this node's own id ${f.node}`);
      if (!this.#memory.fresh(f.nonce)) return fail("AUTH_FAILED", `replayed hello nonce from ${f.node}`);
      this.#dialer = { node: f.node, nonce: f.nonce };
      return {
        kind: "send",
        frame: {
          t: "challenge",
          v: PROTOCOL_VERSION,
          node: this.#self,
          nonce: this.#nonce,
          proof: proofOf(this.#secret, "L", f.node, this.#self, f.nonce, this.#nonce),
        },
      };
    }
    if (f.t === "auth" && this.#dialer !== undefined) {
      const want = proofOf(this.#secret, "D", this.#dialer.node, this.#self, this.#dialer.nonce, this.#nonce);
      if (!sameProof(f.proof, want))
        return fail("AUTH_FAILED", `dialer ${this.#dialer.node} gave a wrong proof (secrets differ?)`);
      const keys = deriveKeys(
        {
          secret: this.#secret,
          dialer: this.#dialer.node,
          listener: this.#self,
          dialerNonce: this.#dialer.nonce,
          listenerNonce: this.#nonce,
        },
        "listener",
      );
      return { kind: "done", peer: this.#dialer.node, keys, send: { t: "welcome" } };
    }
    return fail("AUTH_FAILED", `unexpected "${f.t}" frame during the handshake`);
  }
}
