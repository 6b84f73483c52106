/**
 * PROTOCOL §1 "Liveness": a peer whose packets stop without a FIN or RST (a cut cable, a frozen
 * host, a middlebox that drops the flow) is noticed within SILENCE_LIMIT_MS + PING_INTERVAL_MS
 * (16 s). Each side pings on every PING_INTERVAL_MS tick in which it sent nothing else (the
 * link decides; on an idle link ~4 sealed frames of ~80 bytes per second with the pongs, none
 * extra on a busy one), and any frame heard counts as life.
 * The decision is pure (SilenceDetector, with the clock passed in); LinkLiveness runs it on a timer.
 */

export const PING_INTERVAL_MS = 1_000;
/**
 * 15 s, not the 2.5 s first tried: a gateway's main thread stalls for seconds while it loads and
 * prepares agent turns, and a peer cannot tell that from a dead path (the kernel of a stalled
 * process still ACKs). In the compose mesh a 2.5 s limit cut live links ("nothing heard for
 * 2896 ms" at startup) and failed a handoff and a contact in flight. Faster detection needs a
 * suspect state that routes around a quiet peer without cutting it (issue 17).
 */
export const SILENCE_LIMIT_MS = 15_000;

export type Verdict = "alive" | "dead" | "late";

export class SilenceDetector {
  readonly intervalMs: number;
  readonly silenceMs: number;
  #lastHeard: number;
  #lastTick: number;

  constructor(opts: { intervalMs: number; silenceMs: number }, now: number) {
    if (!(opts.intervalMs > 0) || !(opts.silenceMs >= 2 * opts.intervalMs))
      throw new RangeError(
        `liveness needs intervalMs > 0 and silenceMs >= 2 x intervalMs (got ${opts.intervalMs}, ${opts.silenceMs})`,
      );
    this.intervalMs = opts.intervalMs;
    this.silenceMs = opts.silenceMs;
    this.#lastHeard = now;
    this.#lastTick = now;
  }

  heard(now: number): void {
    if (now > this.#lastHeard) this.#lastHeard = now;
  }

  /** Milliseconds since the last frame heard. */
  silence(now: number): number {
    return now - this.#lastHeard;
  }

  /**
   * Called every interval. "late": this tick itself came more than an interval late (this
   * process stalled: a long GC, a busy event loop), so frames may be waiting unread in the socket;
   * the peer is not judged until the next tick, after they are read. Otherwise "dead" once
   * nothing was heard for silenceMs.
   */
  tick(now: number): Verdict {
    const late = now - this.#lastTick > 2 * this.intervalMs;
    this.#lastTick = now;
    if (late) {
      // Whatever arrived during the stall is read after this timer: count the silence from now.
      this.#lastHeard = Math.max(this.#lastHeard, now - this.silenceMs + this.intervalMs);
      return "late";
    }
    return now - this.#lastHeard >= this.silenceMs ? "dead" : "alive";
  }
}

/** Pings on a timer and reports a dead peer once; stop() clears the timer. */
export class LinkLiveness {
  readonly #detector: SilenceDetector;
  readonly #ping: () => void;
  readonly #onDead: (silentMs: number) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: {
    intervalMs?: number;
    silenceMs?: number;
    ping: () => void;
    onDead: (silentMs: number) => void;
  }) {
    const intervalMs = opts.intervalMs ?? PING_INTERVAL_MS;
    this.#detector = new SilenceDetector(
      { intervalMs, silenceMs: opts.silenceMs ?? Math.max(SILENCE_LIMIT_MS, 2 * intervalMs) },
      performance.now(),
    );
    this.#ping = opts.ping;
    this.#onDead = opts.onDead;
  }

  start(): void {
    this.stop();
    this.#timer = setInterval(() => this.#tick(), this.#detector.intervalMs);
    this.#timer.unref();
  }

  heard(): void {
    this.#detector.heard(performance.now());
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = performance.now();
    if (this.#detector.tick(now) === "dead") {
      this.stop();
      this.#onDead(Math.round(this.#detector.silence(now)));
      return;
    }
    this.#ping();
  }
}
