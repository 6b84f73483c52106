import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { z } from "zod";
import { key32Text, PROTOCOL_VERSION } from "./frames.ts";

/**
 * PROTOCOL §6a: per node-pair keys for the origin proof of relayed frames. Each node holds an
 * X25519 key pair beside its Ed25519 identity and publishes the public half inside its signed
 * gossip state (so the identity key vouches for it); two nodes derive the same 32-byte key from
 * X25519 and HKDF, and nobody else can (a relay included). An HMAC under it costs microseconds
 * where an Ed25519 signature and its verification cost over a hundred. Pure: no files, no sockets.
 */

/** The file form of the X25519 key pair (JWK members), kept beside the identity key. */
export const storedDhKey = z
  .object({
    v: z.literal(1),
    kty: z.literal("OKP"),
    crv: z.literal("X25519"),
    x: key32Text,
    d: key32Text,
  })
  .strict();
export type StoredDhKey = z.infer<typeof storedDhKey>;

export class DhKey {
  readonly #private: KeyObject;
  readonly publicKey: string;

  private constructor(priv: KeyObject) {
    this.#private = priv;
    this.publicKey = String(createPublicKey(priv).export({ format: "jwk" }).x);
  }

  static generate(): DhKey {
    return new DhKey(generateKeyPairSync("x25519").privateKey);
  }

  /** From its stored form; throws when the pair does not belong together. */
  static fromStored(s: StoredDhKey): DhKey {
    const key = new DhKey(
      createPrivateKey({ key: { kty: "OKP", crv: "X25519", x: s.x, d: s.d }, format: "jwk" }),
    );
    if (key.publicKey !== s.x) throw new Error("the stored public key does not match the private key");
    return key;
  }

  toStored(): StoredDhKey {
    const jwk = this.#private.export({ format: "jwk" });
    return { v: 1, kty: "OKP", crv: "X25519", x: this.publicKey, d: String(jwk.d) };
  }

  /** The raw X25519 shared secret with `peerPublic`; throws on a malformed or low-order key. */
  shared(peerPublic: string): Buffer {
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: peerPublic }, format: "jwk" });
    return diffieHellman({ privateKey: this.#private, publicKey });
  }
}

/**
 * The key two nodes share: HKDF-SHA256 over their X25519 secret, bound to both node ids and both
 * public keys (ordered by node id, so both ends derive the same bytes).
 */
export function pairKeyBytes(self: { node: string; dh: DhKey }, peer: { node: string; dh: string }): Buffer {
  const shared = self.dh.shared(peer.dh);
  // An all-zero secret means a low-order point: anyone could compute it.
  if (shared.every((b) => b === 0)) throw new Error("low-order X25519 public key");
  const ends = [
    { node: self.node, dh: self.dh.publicKey },
    { node: peer.node, dh: peer.dh },
  ].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const [lo, hi] = ends as [(typeof ends)[0], (typeof ends)[0]];
  const info = `clawmatrix/${PROTOCOL_VERSION}|pair|${lo.node}|${hi.node}|${lo.dh}|${hi.dh}`;
  return Buffer.from(hkdfSync("sha256", shared, Buffer.alloc(0), Buffer.from(info), 32));
}

/** Pair keys kept at most; they come from gossip, so the cache is bounded. */
export const MAX_PAIR_KEYS = 1024;

/**
 * This node's pair keys, derived once per (peer, peer's X25519 key) and cached as KeyObjects
 * (an HMAC with a KeyObject is several times cheaper than with raw bytes). A peer that publishes
 * a new X25519 key gets a new entry; past the cap the oldest entry goes.
 */
export class PairKeys {
  readonly #self: { node: string; dh: DhKey };
  readonly #capacity: number;
  readonly #keys = new Map<string, KeyObject | null>();

  constructor(self: string, dh: DhKey, capacity = MAX_PAIR_KEYS) {
    this.#self = { node: self, dh };
    this.#capacity = capacity;
  }

  get publicKey(): string {
    return this.#self.dh.publicKey;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** The key shared with `peer` under its public key `dh`; undefined when `dh` is unusable. */
  keyFor(peer: string, dh: string): KeyObject | undefined {
    const id = `${peer}|${dh}`;
    let key = this.#keys.get(id);
    if (key === undefined) {
      try {
        key = createSecretKey(pairKeyBytes(this.#self, { node: peer, dh }));
      } catch {
        key = null; // remembered, so a bad key costs one failed derivation
      }
      if (this.#keys.size >= this.#capacity) {
        const oldest = this.#keys.keys().next().value;
        if (oldest !== undefined) this.#keys.delete(oldest);
      }
      this.#keys.set(id, key);
    }
    return key ?? undefined;
  }
}
