import type { RoutedFrame } from "../protocol/frames.ts";

/**
 * PROTOCOL §6a "first contact": a routed frame can reach its destination before the gossip that
 * carries its origin's key (gossip and requests take their own paths and queues). Rather than
 * drop it (the caller would wait out its timeout), the destination holds it, bounded in number,
 * per origin and in time, until that key is known; then it is checked and handled as if it had
 * just arrived. Nothing is served before its signature is checked against the origin's key.
 */

export const ORIGIN_HOLD_MS = 5_000;
export const MAX_HELD_FRAMES = 256;
export const MAX_HELD_PER_ORIGIN = 32;
/** Origins with held frames at once: each holds one timer. */
const MAX_HELD_ORIGINS = 64;

export interface OriginHoldLimits {
  holdMs: number;
  maxHeld: number;
  maxPerOrigin: number;
}

interface Held {
  frames: RoutedFrame[];
  timer: NodeJS.Timeout;
}

export class OriginHold {
  readonly #limits: OriginHoldLimits;
  readonly #byOrigin = new Map<string, Held>();
  readonly #onExpired: (frames: RoutedFrame[]) => void;
  #count = 0;

  /** `onExpired` gets an origin's frames whose key never came within `holdMs`. */
  constructor(
    onExpired: (frames: RoutedFrame[]) => void,
    limits: OriginHoldLimits = {
      holdMs: ORIGIN_HOLD_MS,
      maxHeld: MAX_HELD_FRAMES,
      maxPerOrigin: MAX_HELD_PER_ORIGIN,
    },
  ) {
    this.#onExpired = onExpired;
    this.#limits = limits;
  }

  get size(): number {
    return this.#count;
  }

  /**
   * Holds `f` until its origin's key is known; false (not held) when a cap is reached. The hold
   * time counts from the origin's first held frame: a flood of frames cannot extend it.
   */
  hold(f: RoutedFrame): boolean {
    if (this.#count >= this.#limits.maxHeld) return false;
    let h = this.#byOrigin.get(f.src);
    if (!h) {
      if (this.#byOrigin.size >= MAX_HELD_ORIGINS) return false;
      const timer = setTimeout(() => {
        const frames = this.take(f.src);
        if (frames.length > 0) this.#onExpired(frames);
      }, this.#limits.holdMs);
      timer.unref();
      h = { frames: [], timer };
      this.#byOrigin.set(f.src, h);
    }
    if (h.frames.length >= this.#limits.maxPerOrigin) return false;
    h.frames.push(f);
    this.#count++;
    return true;
  }

  /** The frames held for `origin`, in arrival order, no longer held. */
  take(origin: string): RoutedFrame[] {
    const h = this.#byOrigin.get(origin);
    if (!h) return [];
    clearTimeout(h.timer);
    this.#byOrigin.delete(origin);
    this.#count -= h.frames.length;
    return h.frames;
  }

  /** Drops everything held (the node is stopping). */
  clear(): void {
    for (const h of this.#byOrigin.values()) clearTimeout(h.timer);
    this.#byOrigin.clear();
    this.#count = 0;
  }
}
