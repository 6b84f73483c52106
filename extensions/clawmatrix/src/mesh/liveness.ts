/**
 * PROTOCOL §1 "Liveness": a peer whose packets stop without a FIN or RST (a cut cable, a frozen
 * host, a middlebox that drops the flow) is noticed in two steps. After QUIET_AFTER_MS (2 s, so
 * within 2.25 s of its last frame) the link is "quiet": new work goes to other nodes first and
 * requests that are safe to move (no effect beyond their answer) move to the next candidate, but
 * the link stays, and a frame heard clears it. After SILENCE_LIMIT_MS (15 s) the link is cut. Each side pings on every PING_INTERVAL_MS tick in which it sent nothing else (the
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
/**
 * Two missed pings: a live peer answers each within its rtt. A peer whose thread stalls this long
 * is routed around for a moment and loses nothing (the link stays; only movable requests move).
 */
export const QUIET_AFTER_MS = 2_000;

/**
 * Silence is judged this many times per ping interval: a peer gone quiet is seen within
 * QUIET_AFTER_MS + a quarter interval of its last frame (2-2.25 s), not + a whole one (2-3 s).
 */
export const CHECKS_PER_PING = 4;

export type Verdict = "alive" | "quiet" | "dead" | "late";

export class SilenceDetector {
  readonly intervalMs: number;
  readonly silenceMs: number;
  readonly quietMs: number;
  #lastHeard: number;
  #lastTick: number;

  /** `quietMs` defaults to silenceMs: no quiet step. */
  constructor(opts: { intervalMs: number; silenceMs: number; quietMs?: number }, now: number) {
    const quietMs = opts.quietMs ?? opts.silenceMs;
    if (
      !(opts.intervalMs > 0) ||
      !(opts.silenceMs >= 2 * opts.intervalMs) ||
      !(quietMs >= 2 * opts.intervalMs && quietMs <= opts.silenceMs)
    )
      throw new RangeError(
        `liveness needs intervalMs > 0 and 2 x intervalMs <= quietMs <= silenceMs, silenceMs >= 2 x intervalMs (got ${opts.intervalMs}, ${quietMs}, ${opts.silenceMs})`,
      );
    this.intervalMs = opts.intervalMs;
    this.silenceMs = opts.silenceMs;
    this.quietMs = quietMs;
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
   * nothing was heard for silenceMs, "quiet" once nothing was heard for quietMs.
   */
  tick(now: number): Verdict {
    const late = now - this.#lastTick > 2 * this.intervalMs;
    this.#lastTick = now;
    if (late) {
      // Whatever arrived during the stall is read after this timer: count the silence from now.
      this.#lastHeard = Math.max(this.#lastHeard, now - this.silenceMs + this.intervalMs);
      return "late";
    }
    const silent = now - this.#lastHeard;
    return silent >= this.silenceMs ? "dead" : silent >= this.quietMs ? "quiet" : "alive";
  }
}

/**
 * Checks CHECKS_PER_PING times per ping interval, offering a ping at each check; reports a quiet
 * peer once per quiet spell (and when it is heard again), a dead one once; stop() clears the timer.
 */
export class LinkLiveness {
  readonly #detector: SilenceDetector;
  readonly #ping: () => void;
  readonly #onDead: (silentMs: number) => void;
  readonly #onQuiet: (silentMs: number) => void;
  readonly #onHeardAgain: () => void;
  #quiet = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: {
    intervalMs?: number;
    silenceMs?: number;
    quietMs?: number;
    ping: () => void;
    onDead: (silentMs: number) => void;
    onQuiet?: (silentMs: number) => void;
    onHeardAgain?: () => void;
  }) {
    const intervalMs = opts.intervalMs ?? PING_INTERVAL_MS;
    const silenceMs = opts.silenceMs ?? Math.max(SILENCE_LIMIT_MS, 2 * intervalMs);
    const quietMs = Math.min(silenceMs, opts.quietMs ?? Math.max(QUIET_AFTER_MS, 2 * intervalMs));
    this.#detector = new SilenceDetector(
      { intervalMs: intervalMs / CHECKS_PER_PING, silenceMs, quietMs },
      performance.now(),
    );
    this.#ping = opts.ping;
    this.#onDead = opts.onDead;
    this.#onQuiet = opts.onQuiet ?? (() => {});
    this.#onHeardAgain = opts.onHeardAgain ?? (() => {});
  }

  /** Whether the peer is in a quiet spell now. */
  get quiet(): boolean {
    return this.#quiet;
  }

  start(): void {
    this.stop();
    this.#timer = setInterval(() => this.#tick(), this.#detector.intervalMs);
    this.#timer.unref();
  }

  heard(): void {
    this.#detector.heard(performance.now());
    if (this.#quiet) {
      this.#quiet = false;
      this.#onHeardAgain();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = performance.now();
    const verdict = this.#detector.tick(now);
    if (verdict === "dead") {
      this.stop();
      this.#onDead(Math.round(this.#detector.silence(now)));
      return;
    }
    if (verdict === "quiet" && !this.#quiet) {
      this.#quiet = true;
      this.#onQuiet(Math.round(this.#detector.silence(now)));
    }
    // The link sends a ping only when it sent nothing for an interval: asked at every check, a
    // live peer's frames are at most an interval and a quarter apart (2 s when asked once).
    this.#ping();
  }
}
