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

/**
 * For a save of state that keeps changing (a waterline, a dedup file): a call starts `fn` when
 * none runs; a call while one runs gets the save after it, which starts when the running one
 * ends and writes the state as it is then. However many calls arrive during a save, one more
 * follows, never one each, and never two at once (a later state is never overtaken by an older
 * one). Each caller's promise settles after a save that started after its call.
 */
export function latestOnly(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const start = (): Promise<void> => {
    const p = fn();
    running = p;
    const clear = () => {
      if (running === p) running = undefined;
    };
    p.then(clear, clear);
    return p;
  };
  return () => {
    if (queued) return queued;
    if (!running) return start();
    const after = running.then(
      () => undefined,
      () => undefined,
    );
    queued = after.then(() => {
      queued = undefined;
      return start();
    });
    return queued;
  };
}
