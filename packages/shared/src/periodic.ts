interface PeriodicOptions {
  name: string;
  intervalMs: number;
  /** Run once right at start instead of after the first interval. */
  immediate?: boolean;
  /** Fraction (0..1) of the interval added at random to each wait. */
  jitter?: number;
  onError?: (err: unknown) => void;
}

/**
 * Runs an async task every `intervalMs`, measured from the end of the previous run, so two runs
 * never overlap however slow the task is. Timers are unref'd (a poller never keeps a process
 * alive); `stop()` is idempotent and waits for a run in flight.
 */
export class Periodic {
  readonly #opts: PeriodicOptions;
  readonly #task: () => unknown;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;
  #runs = 0;

  constructor(opts: PeriodicOptions, task: () => unknown) {
    if (!(opts.intervalMs > 0))
      throw new RangeError(`${opts.name}: intervalMs must be > 0 (got ${opts.intervalMs})`);
    this.#opts = opts;
    this.#task = task;
  }

  get started(): boolean {
    return this.#started;
  }

  get runs(): number {
    return this.#runs;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#schedule(this.#opts.immediate ? 0 : this.#delay());
  }

  /** Runs the task now (joining a run in flight) and restarts the interval from its end. */
  async runNow(): Promise<void> {
    if (this.#running) return this.#running;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #delay(): number {
    const j = this.#opts.jitter ?? 0;
    return Math.round(this.#opts.intervalMs * (1 + j * Math.random()));
  }

  #schedule(ms: number): void {
    if (!this.#started) return;
    this.#timer = setTimeout(() => void this.#run(), ms);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    this.#running = (async () => {
      try {
        this.#runs++;
        await this.#task();
      } catch (err) {
        this.#opts.onError?.(err);
      }
    })();
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
      this.#schedule(this.#delay());
    }
  }
}

interface HeartbeatOptions {
  intervalMs: number;
  /** Missed acknowledgements after which the link is declared stale. */
  maxMissed: number;
  /** Send one ping. */
  ping: () => void;
  /** Called once when `maxMissed` pings went unanswered; the heartbeat stops itself. */
  onStale: (missed: number) => void;
}

/**
 * After nats.js: a ping every interval; `ack()` on any sign of life resets the count; after N
 * misses the link is stale. `start()` cancels a previous run first, so restarts never double up.
 */
export class Heartbeat {
  readonly #opts: HeartbeatOptions;
  #timer: NodeJS.Timeout | undefined;
  #missed = 0;

  constructor(opts: HeartbeatOptions) {
    if (!(opts.intervalMs > 0))
      throw new RangeError(`heartbeat intervalMs must be > 0 (got ${opts.intervalMs})`);
    if (!(opts.maxMissed >= 1))
      throw new RangeError(`heartbeat maxMissed must be >= 1 (got ${opts.maxMissed})`);
    this.#opts = opts;
  }

  get missed(): number {
    return this.#missed;
  }

  start(): void {
    this.stop();
    this.#timer = setInterval(() => this.#tick(), this.#opts.intervalMs);
    this.#timer.unref();
  }

  ack(): void {
    this.#missed = 0;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#missed = 0;
  }

  #tick(): void {
    if (this.#missed >= this.#opts.maxMissed) {
      const missed = this.#missed;
      this.stop();
      this.#opts.onStale(missed);
      return;
    }
    this.#missed++;
    try {
      this.#opts.ping();
    } catch {
      // A failed send shows up as a missed ack; the next tick decides.
    }
  }
}

/**
 * Runs a task at most once per `minGapMs`: a call after a quiet gap runs at once; calls within
 * the gap collapse into one run at its end. For announcements that a burst of events would
 * otherwise repeat (every run of the task sends the latest state, so nothing is lost by
 * collapsing). `stop()` drops a pending run.
 */
export class Throttle {
  readonly #minGapMs: number;
  readonly #task: () => void;
  #last = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(minGapMs: number, task: () => void) {
    if (!(minGapMs >= 0)) throw new RangeError(`throttle minGapMs must be >= 0 (got ${minGapMs})`);
    this.#minGapMs = minGapMs;
    this.#task = task;
  }

  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** True when the task ran now; false when it waits for the gap's end (or is stopped). */
  fire(): boolean {
    if (this.#stopped || this.#timer) return false;
    const wait = this.#last + this.#minGapMs - Date.now();
    if (wait <= 0) {
      this.#run();
      return true;
    }
    this.#timer = setTimeout(() => this.#run(), wait);
    this.#timer.unref();
    return false;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  start(): void {
    this.#stopped = false;
  }

  #run(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#last = Date.now();
    this.#task();
  }
}
