import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { z } from "zod";

/**
 * PROTOCOL §3b: node identity. Each node holds an Ed25519 key pair; its public key travels as
 * the 32 raw bytes in base64url (43 characters, no padding). Pure: no files, no sockets.
 */

/** A public key on the wire and in config: 32 raw Ed25519 bytes, base64url without padding. */
export const publicKeyText = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, "expected an Ed25519 public key: 43 base64url characters (32 bytes)");
/** A signature on the wire: 64 raw bytes, base64url without padding. */
export const signatureText = z.string().regex(/^[A-Za-z0-9_-]{86}$/);

/** The file form of a key pair (JWK members, base64url), as kept in the state volume. */
export const storedKey = z
  .object({
    v: z.literal(1),
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: publicKeyText,
    d: publicKeyText,
  })
  .strict();
export type StoredKey = z.infer<typeof storedKey>;

export class NodeKey {
  readonly #private: KeyObject;
  /** This node's public key, base64url of the 32 raw bytes. */
  readonly publicKey: string;

  private constructor(priv: KeyObject, pub: string) {
    this.#private = priv;
    this.publicKey = pub;
  }

  static generate(): NodeKey {
    const { privateKey } = generateKeyPairSync("ed25519");
    return NodeKey.#fromPrivate(privateKey);
  }

  /** From its stored form; throws when the pair does not belong together. */
  static fromStored(s: StoredKey): NodeKey {
    const priv = createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", x: s.x, d: s.d }, format: "jwk" });
    const key = NodeKey.#fromPrivate(priv);
    if (key.publicKey !== s.x) throw new Error("the stored public key does not match the private key");
    return key;
  }

  static #fromPrivate(priv: KeyObject): NodeKey {
    const jwk = createPublicKey(priv).export({ format: "jwk" });
    return new NodeKey(priv, String(jwk.x));
  }

  toStored(): StoredKey {
    const jwk = this.#private.export({ format: "jwk" });
    return { v: 1, kty: "OKP", crv: "Ed25519", x: this.publicKey, d: String(jwk.d) };
  }

  /** Ed25519 signature over the UTF-8 bytes of `data`, base64url. */
  sign(data: string): string {
    return sign(null, Buffer.from(data), this.#private).toString("base64url");
  }
}

/** Imported public keys, by their text: importing costs about as much as a verification. */
const KEY_CACHE_SIZE = 2048;
const keyObjects = new Map<string, KeyObject>();

function publicKeyObject(publicKey: string): KeyObject {
  let key = keyObjects.get(publicKey);
  if (!key) {
    key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" });
    // Bounded: keys come from the network (gossip, requests); past the cap, start over.
    if (keyObjects.size >= KEY_CACHE_SIZE) keyObjects.clear();
    keyObjects.set(publicKey, key);
  }
  return key;
}

/** True only when `signature` is `publicKey`'s valid signature of `data`; never throws. */
export function verifySignature(publicKey: string, data: string, signature: string): boolean {
  if (!publicKeyText.safeParse(publicKey).success || !signatureText.safeParse(signature).success)
    return false;
  try {
    return verify(null, Buffer.from(data), publicKeyObject(publicKey), Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}
