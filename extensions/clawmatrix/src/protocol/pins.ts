/**
 * PROTOCOL §3b: which public key each node id may present. A node listed in the configured
 * trusted keys must present one of its listed keys; any other node's key is pinned the first time
 * it completes a handshake and must stay the same afterwards. Pure: persistence is the caller's
 * (`onPin` hands it the new table).
 */

/** Pins kept at most. A member with the secret could invent ids; past this, new ids are refused. */
export const MAX_PINNED_KEYS = 1024;

export type KeyVerdict = { ok: true; pinned: boolean } | { ok: false; reason: string };

export interface TrustedKey {
  nodeId: string;
  key: string;
}

/** A key shortened for messages: enough to tell two apart, and public anyway. */
export function keyTag(key: string): string {
  return `${key.slice(0, 10)}…`;
}

export class KeyPins {
  readonly #trusted = new Map<string, Set<string>>();
  readonly #pinned = new Map<string, string>();
  readonly #capacity: number;
  readonly #onPin: ((pinned: Record<string, string>) => void) | undefined;

  constructor(
    opts: {
      trusted?: readonly TrustedKey[];
      pinned?: Record<string, string>;
      capacity?: number;
      onPin?: (pinned: Record<string, string>) => void;
    } = {},
  ) {
    for (const t of opts.trusted ?? []) {
      const set = this.#trusted.get(t.nodeId) ?? new Set<string>();
      set.add(t.key);
      this.#trusted.set(t.nodeId, set);
    }
    this.#capacity = opts.capacity ?? MAX_PINNED_KEYS;
    for (const [node, key] of Object.entries(opts.pinned ?? {}))
      if (this.#pinned.size < this.#capacity) this.#pinned.set(node, key);
    this.#onPin = opts.onPin;
  }

  /** The pins as a plain object (for the state file and status). */
  get pinned(): Record<string, string> {
    return Object.fromEntries(this.#pinned);
  }

  /** The keys `node` is held to (trusted, else pinned), or undefined when none is known yet. */
  keysOf(node: string): readonly string[] | undefined {
    const trusted = this.#trusted.get(node);
    if (trusted) return [...trusted];
    const pinned = this.#pinned.get(node);
    return pinned === undefined ? undefined : [pinned];
  }

  /**
   * Whether `node` may present `key`; pins it when the node is new. Synchronous, so two
   * handshakes racing for the same new id cannot both pin different keys.
   */
  accept(node: string, key: string): KeyVerdict {
    const trusted = this.#trusted.get(node);
    if (trusted) {
      if (trusted.has(key)) return { ok: true, pinned: false };
      return {
        ok: false,
        reason: `node ${node} presented key ${keyTag(key)}, which is not among its ${trusted.size} trusted key(s)`,
      };
    }
    const known = this.#pinned.get(node);
    if (known === key) return { ok: true, pinned: false };
    if (known !== undefined)
      return {
        ok: false,
        reason: `node ${node} presented key ${keyTag(key)}, but ${keyTag(known)} is pinned for it (key changed: remove the pin or list the new key as trusted)`,
      };
    if (this.#pinned.size >= this.#capacity)
      return { ok: false, reason: `node ${node} is new and ${this.#capacity} keys are pinned already` };
    this.#pinned.set(node, key);
    this.#onPin?.(this.pinned);
    return { ok: true, pinned: true };
  }
}
