/** Reconnect delays of the mesh and the SSE clients: 1 s doubling to 60 s, with jitter. */
const DEFAULT_BACKOFF_INITIAL_MS = 1_000;
const DEFAULT_BACKOFF_MAX_MS = 60_000;
const DEFAULT_BACKOFF_FACTOR = 2;
const DEFAULT_BACKOFF_JITTER = 0.2;

interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay added or removed at random (0..1), so peers do not reconnect in lockstep. */
  jitter?: number;
  random?: () => number;
}

/**
 * Exponential backoff with jitter. `next()` gives the delay before the next attempt; `reset()`
 * after a success. Pure: it never sleeps, so callers own their timers and tests need no clock.
 */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.#initial = opts.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.#max = opts.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
    this.#factor = opts.factor ?? DEFAULT_BACKOFF_FACTOR;
    this.#jitter = opts.jitter ?? DEFAULT_BACKOFF_JITTER;
    this.#random = opts.random ?? Math.random;
    if (!(this.#initial > 0) || !(this.#max >= this.#initial)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs (got initialMs=${this.#initial}, maxMs=${this.#max})`,
      );
    }
    if (!(this.#factor >= 1)) throw new RangeError(`backoff factor must be >= 1 (got ${this.#factor})`);
    if (!(this.#jitter >= 0 && this.#jitter <= 1))
      throw new RangeError(`backoff jitter must be in 0..1 (got ${this.#jitter})`);
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    const base = Math.min(this.#max, this.#initial * this.#factor ** this.#attempt);
    this.#attempt++;
    const spread = base * this.#jitter * (this.#random() * 2 - 1);
    return Math.max(0, Math.min(this.#max, Math.round(base + spread)));
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted first. The timer is unref'd. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    timer.unref();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
