import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from "node:crypto";
import { decodeFrameBytes, type Frame, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "./frames.ts";

/**
 * PROTOCOL §3a: session keys and sealed frames. After the handshake every frame travels as one
 * binary message `seq (8 bytes, big-endian) | AES-256-GCM ciphertext | tag (16 bytes)`, under a
 * key per direction derived from the handshake, with the sequence number as nonce and as
 * associated data. The receiver expects exactly the next number, so a dropped, replayed,
 * reordered, reflected or injected frame fails and the link is closed. Pure: no sockets.
 */

const KEY_BYTES = 32;
const SEQ_BYTES = 8;
const TAG_BYTES = 16;
/** Bytes a sealed message adds to its frame's JSON. */
export const SEAL_OVERHEAD = SEQ_BYTES + TAG_BYTES;
/** The largest frame JSON (UTF-8 bytes) that still fits one message a peer accepts. */
export const MAX_PLAINTEXT_BYTES = MAX_FRAME_BYTES - SEAL_OVERHEAD;

export interface SessionKeys {
  /** Seals what this side sends. */
  send: Buffer;
  /** Opens what this side receives. */
  receive: Buffer;
}

export interface KeyInput {
  secret: string;
  dialer: string;
  listener: string;
  dialerNonce: string;
  listenerNonce: string;
}

function directionKey(k: KeyInput, direction: "D>L" | "L>D"): Buffer {
  // Node ids and nonces cannot contain "|" (frames.ts), so the joined strings are unambiguous.
  const salt = Buffer.from(`${k.dialerNonce}|${k.listenerNonce}`);
  const info = Buffer.from(`clawmatrix/${PROTOCOL_VERSION}|key|${direction}|${k.dialer}|${k.listener}`);
  return Buffer.from(hkdfSync("sha256", Buffer.from(k.secret), salt, info, KEY_BYTES));
}

/** HKDF-SHA256 over the secret, both nonces, both node ids and the version; one key per direction. */
export function deriveKeys(k: KeyInput, role: "dialer" | "listener"): SessionKeys {
  const d2l = directionKey(k, "D>L");
  const l2d = directionKey(k, "L>D");
  return role === "dialer" ? { send: d2l, receive: l2d } : { send: l2d, receive: d2l };
}

function nonceOf(header: Buffer): Buffer {
  const iv = Buffer.alloc(12);
  header.copy(iv, 12 - SEQ_BYTES);
  return iv;
}

type OpenResult =
  | { ok: true; frame: Frame }
  /** The frame is authentic but not a valid frame: dropped and counted, the link stays. */
  | { ok: false; fatal: false; reason: string }
  /** Not authentic or out of sequence: the link must be closed. */
  | { ok: false; fatal: true; reason: string };

/** One direction's sealing side. */
export class FrameSealer {
  // A KeyObject, made once: given raw bytes, every cipher call imports them again.
  readonly #key: KeyObject;
  #seq = 0n;

  constructor(key: Buffer) {
    this.#key = createSecretKey(key);
  }

  seal(plain: Buffer): Buffer {
    const header = Buffer.alloc(SEQ_BYTES);
    header.writeBigUInt64BE(this.#seq++);
    const c = createCipheriv("aes-256-gcm", this.#key, nonceOf(header));
    c.setAAD(header);
    return Buffer.concat([header, c.update(plain), c.final(), c.getAuthTag()]);
  }
}

/** One direction's opening side: authenticates, then checks the sequence, then decodes. */
export class FrameOpener {
  readonly #key: KeyObject;
  #seq = 0n;

  constructor(key: Buffer) {
    this.#key = createSecretKey(key);
  }

  open(msg: Buffer): OpenResult {
    const r = this.openPlain(msg);
    if (!r.ok) return r;
    const f = decodeFrameBytes(r.plain);
    return f.ok ? f : { ok: false, fatal: false, reason: f.reason };
  }

  /**
   * The authentication and sequence check alone: the frame's plaintext, or why the link must be
   * closed. (The mesh benchmark times it on its own: it is the floor every frame pays.)
   */
  openPlain(msg: Buffer): { ok: true; plain: Buffer } | { ok: false; fatal: true; reason: string } {
    if (msg.length < SEAL_OVERHEAD)
      return { ok: false, fatal: true, reason: `sealed message of ${msg.length} bytes is too short` };
    const header = msg.subarray(0, SEQ_BYTES);
    const d = createDecipheriv("aes-256-gcm", this.#key, nonceOf(header));
    d.setAAD(header);
    d.setAuthTag(msg.subarray(msg.length - TAG_BYTES));
    let plain: Buffer;
    try {
      // GCM's final() only checks the tag: it adds no bytes, so the plaintext is not copied again.
      plain = d.update(msg.subarray(SEQ_BYTES, msg.length - TAG_BYTES));
      d.final();
    } catch {
      return {
        ok: false,
        fatal: true,
        reason: "a frame failed authentication (tampered, injected or reflected)",
      };
    }
    const seq = header.readBigUInt64BE();
    if (seq !== this.#seq)
      return {
        ok: false,
        fatal: true,
        reason: `frame sequence ${seq}, expected ${this.#seq} (dropped, replayed or reordered)`,
      };
    this.#seq++;
    return { ok: true, plain };
  }
}
