/**
 * A set that remembers at most `capacity` keys, oldest evicted first, each for at most `ttlMs`:
 * enough to drop relayed frames or redelivered events seen recently, without growing forever.
 */
export class BoundedSet<K> {
  readonly #capacity: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  // Map keeps insertion order, which is expiry order since every key gets the same ttl.
  readonly #seen = new Map<K, number>();

  constructor(capacity: number, opts: { ttlMs?: number; now?: () => number } = {}) {
    if (!(Number.isInteger(capacity) && capacity > 0))
      throw new RangeError(`capacity must be a positive integer (got ${capacity})`);
    this.#capacity = capacity;
    this.#ttlMs = opts.ttlMs ?? Number.POSITIVE_INFINITY;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    this.#expire();
    return this.#seen.size;
  }

  has(key: K): boolean {
    this.#expire();
    return this.#seen.has(key);
  }

  /** Adds `key`; returns false when it was already there (a duplicate). */
  add(key: K): boolean {
    this.#expire();
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, this.#now() + this.#ttlMs);
    while (this.#seen.size > this.#capacity) {
      const oldest = this.#seen.keys().next().value as K;
      this.#seen.delete(oldest);
    }
    return true;
  }

  delete(key: K): boolean {
    return this.#seen.delete(key);
  }

  clear(): void {
    this.#seen.clear();
  }

  #expire(): void {
    if (this.#ttlMs === Number.POSITIVE_INFINITY) return;
    const now = this.#now();
    for (const [k, expiresAt] of this.#seen) {
      if (expiresAt > now) break;
      this.#seen.delete(k);
    }
  }
}
