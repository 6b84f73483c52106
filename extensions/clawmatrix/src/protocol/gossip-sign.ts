import { type NodeState, nodeState, PROTOCOL_VERSION } from "./frames.ts";
import { type NodeKey, verifySignature } from "./identity.ts";
import { keyTag } from "./pins.ts";

/**
 * PROTOCOL §5a: the origin rule. A gossiped state is signed by its origin, and every node checks
 * the signature before storing or forwarding it, so no member can speak for another (a forged
 * state or a forged `leaving`). Pure: no sockets.
 */

/** Origins whose key was learned from gossip alone (not pinned by a handshake) kept at most. */
export const MAX_LEARNED_KEYS = 2048;

export interface GossipProof {
  /** The origin's public key (PROTOCOL §3b encoding). */
  key: string;
  /** Its signature over gossipPayload(). */
  sig: string;
}

/**
 * What the origin signs: the state as the frame schema normalizes it (so sender and receiver
 * serialize the same bytes whatever key order the sender's objects had), with origin, seq and
 * the leaving flag.
 */
export function gossipPayload(origin: string, seq: number, state: NodeState, leaving: boolean): string {
  return `clawmatrix/${PROTOCOL_VERSION}|gossip|${origin}|${seq}|${leaving ? 1 : 0}|${JSON.stringify(nodeState.parse(state))}`;
}

export function signGossip(
  key: NodeKey,
  origin: string,
  seq: number,
  state: NodeState,
  leaving: boolean,
): GossipProof {
  return { key: key.publicKey, sig: key.sign(gossipPayload(origin, seq, state, leaving)) };
}

export type GossipVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Which key may sign for an origin: the key pinned or trusted for it (`pinnedOf`, from the
 * handshake pins) when there is one; otherwise the first key seen signing for it, remembered
 * until the origin leaves or expires (`forget`).
 */
export class GossipKeys {
  readonly #pinnedOf: (origin: string) => readonly string[] | undefined;
  readonly #learned = new Map<string, string>();
  readonly #capacity: number;

  constructor(pinnedOf: (origin: string) => readonly string[] | undefined, capacity = MAX_LEARNED_KEYS) {
    this.#pinnedOf = pinnedOf;
    this.#capacity = capacity;
  }

  check(origin: string, seq: number, state: NodeState, leaving: boolean, proof: GossipProof): GossipVerdict {
    const pinned = this.#pinnedOf(origin);
    const learned = this.#learned.get(origin);
    if (pinned && !pinned.includes(proof.key))
      return {
        ok: false,
        reason: `gossip for ${origin} signed by key ${keyTag(proof.key)}, not its pinned key`,
      };
    if (!pinned && learned !== undefined && learned !== proof.key)
      return {
        ok: false,
        reason: `gossip for ${origin} signed by key ${keyTag(proof.key)}, not the key it gossips with`,
      };
    if (!pinned && learned === undefined && this.#learned.size >= this.#capacity)
      return { ok: false, reason: `gossip for ${origin}: ${this.#capacity} origin keys known already` };
    if (!verifySignature(proof.key, gossipPayload(origin, seq, state, leaving), proof.sig))
      return { ok: false, reason: `gossip for ${origin} has a wrong signature` };
    if (!pinned) this.#learned.set(origin, proof.key);
    return { ok: true };
  }

  /** The key an origin signs its gossip with, when learned (not pinned). */
  learnedOf(origin: string): string | undefined {
    return this.#learned.get(origin);
  }

  /** The origin left or expired: a later state may come with another key. */
  forget(origin: string): void {
    this.#learned.delete(origin);
  }
}
