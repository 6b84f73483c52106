/**
 * A set that remembers at most `capacity` keys, oldest evicted first, each for at most `ttlMs`:
 * enough to drop relayed frames or redelivered events seen recently, without growing forever.
 *
 * Eviction order lives in a ring buffer, not in the Map's own order: deleting a Map's oldest
 * entry over and over leaves tombstones that every `keys().next()` has to skip, which made a
 * full set cost several microseconds per add on the mesh's hot path.
 */
export class BoundedSet<K> {
  readonly #capacity: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** key -> sequence number of its live ring slot */
  readonly #seen = new Map<K, number>();
  readonly #keys: Array<K | undefined>;
  readonly #seqs: number[];
  readonly #expires: number[];
  #start = 0;
  #count = 0;
  #seq = 0;

  constructor(capacity: number, opts: { ttlMs?: number; now?: () => number } = {}) {
    if (!(Number.isInteger(capacity) && capacity > 0))
      throw new RangeError(`capacity must be a positive integer (got ${capacity})`);
    this.#capacity = capacity;
    this.#ttlMs = opts.ttlMs ?? Number.POSITIVE_INFINITY;
    this.#now = opts.now ?? Date.now;
    this.#keys = new Array<K | undefined>(capacity);
    this.#seqs = new Array<number>(capacity).fill(-1);
    this.#expires = new Array<number>(capacity).fill(0);
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
    if (this.#count === this.#capacity) this.#dropOldest();
    const slot = (this.#start + this.#count) % this.#capacity;
    const seq = ++this.#seq;
    this.#keys[slot] = key;
    this.#seqs[slot] = seq;
    this.#expires[slot] = this.#ttlMs === Number.POSITIVE_INFINITY ? 0 : this.#now() + this.#ttlMs;
    this.#count++;
    this.#seen.set(key, seq);
    return true;
  }

  delete(key: K): boolean {
    // Its ring slot goes stale: the sequence number no longer matches, so eviction skips it.
    return this.#seen.delete(key);
  }

  clear(): void {
    this.#seen.clear();
    this.#keys.fill(undefined);
    this.#start = 0;
    this.#count = 0;
  }

  #dropOldest(): void {
    const slot = this.#start;
    const key = this.#keys[slot] as K;
    if (this.#seen.get(key) === this.#seqs[slot]) this.#seen.delete(key);
    this.#keys[slot] = undefined;
    this.#start = (this.#start + 1) % this.#capacity;
    this.#count--;
  }

  #expire(): void {
    if (this.#ttlMs === Number.POSITIVE_INFINITY) return;
    const now = this.#now();
    while (this.#count > 0 && (this.#expires[this.#start] as number) <= now) this.#dropOldest();
  }
}
