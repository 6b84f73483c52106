import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { BoundedSet } from "@openclaw-bundle/shared";
import { type Frame, PROTOCOL_VERSION } from "./frames.ts";
import { type NodeKey, verifySignature } from "./identity.ts";
import type { KeyPins } from "./pins.ts";
import { deriveKeys, type SessionKeys } from "./session.ts";

/**
 * PROTOCOL §3-4: the mutual handshake as two pure state machines. Each side proves the mesh
 * secret (HMAC-SHA256) and its own Ed25519 identity (a signature over the transcript), and the
 * peer's key is checked against the trusted keys and pins. The machines take frames and say what
 * to send and whether the link is authenticated; the socket layer does the I/O.
 */

/** What a node brings to every handshake. */
export interface HandshakeAuth {
  secret: string;
  self: string;
  key: NodeKey;
  pins: KeyPins;
}

type FailCode = "AUTH_FAILED" | "VERSION_MISMATCH" | "KEY_REFUSED";

export const HANDSHAKE_TIMEOUT_MS = 5_000;
const NONCE_MEMORY = 4096;

export type Step =
  | { kind: "send"; frame: Frame }
  | { kind: "done"; peer: string; peerKey: string; keys: SessionKeys; send?: Frame }
  | { kind: "fail"; code: FailCode; message: string; send: Frame };

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

/**
 * What each side signs (PROTOCOL §3b): its role, both ids, both nonces and both public keys under
 * the version, so a signature proves this handshake and no other.
 */
export function transcript(
  role: "L" | "D",
  dialer: string,
  listener: string,
  dialerNonce: string,
  listenerNonce: string,
  dialerKey: string,
  listenerKey: string,
): string {
  return `clawmatrix/${PROTOCOL_VERSION}|sig|${role}|${dialer}|${listener}|${dialerNonce}|${listenerNonce}|${dialerKey}|${listenerKey}`;
}

function fail(code: FailCode, message: string): Step {
  return { kind: "fail", code, message, send: { t: "error", code, message } };
}

/** Versions this node refuses by name, with the reason, so an operator knows what to upgrade. */
const RETIRED: Record<number, string> = {
  1: "clawmatrix/1 sends frames in clear after the handshake",
  2: "clawmatrix/2 does not prove node identity",
  3: "clawmatrix/3 proves relayed frames' origin only by Ed25519 signatures",
  4: "clawmatrix/4 carries a chunk's data inside its JSON",
};

function versionCheck(v: number): Step | undefined {
  if (v === PROTOCOL_VERSION) return undefined;
  const why = RETIRED[v] ? ` (${RETIRED[v]}; upgrade that node)` : "";
  return fail("VERSION_MISMATCH", `peer speaks v${v}, this node speaks v${PROTOCOL_VERSION}${why}`);
}

/** The side that dialed. `expectedPeer` is the node id configured for the URL, if any. */
export class DialerHandshake {
  readonly #secret: string;
  readonly #self: string;
  readonly #auth: HandshakeAuth;
  readonly #expected: string | undefined;
  readonly #nonce: string;
  #peer: { node: string; nonce: string; key: string } | undefined;

  constructor(auth: HandshakeAuth, expectedPeer?: string, nonce = newNonce()) {
    this.#auth = auth;
    this.#secret = auth.secret;
    this.#self = auth.self;
    this.#expected = expectedPeer;
    this.#nonce = nonce;
  }

  hello(): Frame {
    return {
      t: "hello",
      v: PROTOCOL_VERSION,
      node: this.#self,
      nonce: this.#nonce,
      key: this.#auth.key.publicKey,
    };
  }

  onFrame(f: Frame): Step {
    if (f.t === "error")
      return fail(
        f.code === "VERSION_MISMATCH" || f.code === "KEY_REFUSED" ? f.code : "AUTH_FAILED",
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
      // Only a holder of the secret gets this far, so a stranger cannot probe or spam the pins.
      if (!f.key || !f.sig)
        return fail("AUTH_FAILED", `listener ${f.node} sent no identity key or signature`);
      const own = this.#auth.key.publicKey;
      const signed = transcript("L", this.#self, f.node, this.#nonce, f.nonce, own, f.key);
      if (!verifySignature(f.key, signed, f.sig))
        return fail("AUTH_FAILED", `listener ${f.node} gave a wrong identity signature`);
      const verdict = this.#auth.pins.accept(f.node, f.key);
      if (!verdict.ok) return fail("KEY_REFUSED", verdict.reason);
      this.#peer = { node: f.node, nonce: f.nonce, key: f.key };
      return {
        kind: "send",
        frame: {
          t: "auth",
          proof: proofOf(this.#secret, "D", this.#self, f.node, this.#nonce, f.nonce),
          sig: this.#auth.key.sign(transcript("D", this.#self, f.node, this.#nonce, f.nonce, own, f.key)),
        },
      };
    }
    if (f.t === "welcome" && this.#peer !== undefined) {
      const keys = deriveKeys(
        {
          secret: this.#secret,
          dialer: this.#self,
          listener: this.#peer.node,
          dialerNonce: this.#nonce,
          listenerNonce: this.#peer.nonce,
        },
        "dialer",
      );
      return { kind: "done", peer: this.#peer.node, peerKey: this.#peer.key, keys };
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
  readonly #auth: HandshakeAuth;
  readonly #memory: NonceMemory;
  readonly #nonce: string;
  #dialer: { node: string; nonce: string; key: string } | undefined;

  constructor(auth: HandshakeAuth, memory: NonceMemory, nonce = newNonce()) {
    this.#auth = auth;
    this.#secret = auth.secret;
    this.#self = auth.self;
    this.#memory = memory;
    this.#nonce = nonce;
  }

  onFrame(f: Frame): Step {
    if (f.t === "error") return fail("AUTH_FAILED", `the dialer refused: ${f.message}`);
    if (f.t === "hello" && this.#dialer === undefined) {
      const bad = versionCheck(f.v);
      if (bad) return bad;
      if (f.node === this.#self) return fail("AUTH_FAILED", `dialer claims this node's own id ${f.node}`);
      if (!f.key) return fail("AUTH_FAILED", `dialer ${f.node} sent no identity key`);
      if (!this.#memory.fresh(f.nonce)) return fail("AUTH_FAILED", `replayed hello nonce from ${f.node}`);
      this.#dialer = { node: f.node, nonce: f.nonce, key: f.key };
      const own = this.#auth.key.publicKey;
      return {
        kind: "send",
        frame: {
          t: "challenge",
          v: PROTOCOL_VERSION,
          node: this.#self,
          nonce: this.#nonce,
          proof: proofOf(this.#secret, "L", f.node, this.#self, f.nonce, this.#nonce),
          key: own,
          sig: this.#auth.key.sign(transcript("L", f.node, this.#self, f.nonce, this.#nonce, f.key, own)),
        },
      };
    }
    if (f.t === "auth" && this.#dialer !== undefined) {
      const want = proofOf(this.#secret, "D", this.#dialer.node, this.#self, this.#dialer.nonce, this.#nonce);
      if (!sameProof(f.proof, want))
        return fail("AUTH_FAILED", `dialer ${this.#dialer.node} gave a wrong proof (secrets differ?)`);
      const d = this.#dialer;
      const signed = transcript(
        "D",
        d.node,
        this.#self,
        d.nonce,
        this.#nonce,
        d.key,
        this.#auth.key.publicKey,
      );
      if (!verifySignature(d.key, signed, f.sig))
        return fail("AUTH_FAILED", `dialer ${d.node} gave a wrong identity signature`);
      const verdict = this.#auth.pins.accept(d.node, d.key);
      if (!verdict.ok) return fail("KEY_REFUSED", verdict.reason);
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
      return { kind: "done", peer: d.node, peerKey: d.key, keys, send: { t: "welcome" } };
    }
    return fail("AUTH_FAILED", `unexpected "${f.t}" frame during the handshake`);
  }
}
