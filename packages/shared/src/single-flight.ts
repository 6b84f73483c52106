/**
 * Collapses concurrent calls for the same key into one: while a call is in flight, every caller
 * with that key gets the same promise (one token refresh, one lease acquire, however many
 * requests arrive at once). The entry is dropped when the call settles, so the next call runs anew.
 */
export class SingleFlight<K, V> {
  readonly #inflight = new Map<K, Promise<V>>();

  get size(): number {
    return this.#inflight.size;
  }

  isInFlight(key: K): boolean {
    return this.#inflight.has(key);
  }

  run(key: K, fn: () => Promise<V>): Promise<V> {
    const existing = this.#inflight.get(key);
    if (existing) return existing;
    const p = (async () => {
      try {
        return await fn();
      } finally {
        this.#inflight.delete(key);
      }
    })();
    this.#inflight.set(key, p);
    return p;
  }
}

/** A single-flight for a function of no arguments. */
export function singleFlight<V>(fn: () => Promise<V>): () => Promise<V> {
  const sf = new SingleFlight<0, V>();
  return () => sf.run(0, fn);
}
