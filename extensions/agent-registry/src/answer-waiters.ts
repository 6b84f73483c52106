/**
 * Contacts waiting for an answer, kept apart from the account that sent them. The gateway's health
 * monitor restarts a channel account it judges stopped (and the account restarts on a config
 * reload), sometimes while a `contact` waits: when the waiters lived in the account, its stop
 * answered every one of them "no answer yet", and the answer that came a second later, read by
 * the new account, was treated as a new message. Here a waiter outlives the account: the next
 * account's inbox pass delivers the answer, and only the waiter's own deadline ends the wait.
 */

/** How many contacts may wait at once; a bound, so a caller looping on `contact` cannot grow it. */
export const MAX_WAITERS = 1_000;

interface Waiter {
  resolve(text: string | undefined): void;
  timer: NodeJS.Timeout;
}

export class AnswerWaiters {
  readonly #waiting = new Map<string, Waiter>();
  /** Reads the inbox now; set by whichever account runs (none between a stop and a start). */
  #kick: (() => void) | undefined;
  #fast: NodeJS.Timeout | undefined;
  readonly #pollMs: number;

  /** @param pollMs how often the inbox is read while someone waits */
  constructor(pollMs: number) {
    this.#pollMs = pollMs;
  }

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Makes `kick` (the running account's inbox pass) the one the fast poll calls. The returned
   * detach clears it only if no newer account has attached since: an old account's stop can
   * finish after its successor started.
   */
  attach(kick: () => void): () => void {
    this.#kick = kick;
    return () => {
      if (this.#kick === kick) this.#kick = undefined;
    };
  }

  /**
   * Waits for the answer to message `id`, at most `timeoutMs`: resolves with its text, or
   * undefined when none came (or the answer was empty). `cancel` ends the wait early.
   */
  wait(id: string, timeoutMs: number): { promise: Promise<string | undefined>; cancel(): void } {
    if (this.#waiting.size >= MAX_WAITERS)
      throw new Error(`${MAX_WAITERS} contacts already wait for an answer; try again when some have ended`);
    let resolveFn: (text: string | undefined) => void = () => {};
    const promise = new Promise<string | undefined>((resolve) => {
      resolveFn = resolve;
    });
    const timer = setTimeout(() => this.#end(id, undefined), timeoutMs);
    timer.unref();
    this.#waiting.set(id, { resolve: resolveFn, timer });
    this.#startFastPoll();
    return { promise, cancel: () => this.#end(id, undefined) };
  }

  /** Delivers an answer: true when someone waited for it (it is theirs, not a new message). */
  deliver(replyTo: string, text: string): boolean {
    if (!this.#waiting.has(replyTo)) return false;
    this.#end(replyTo, text || undefined);
    return true;
  }

  #end(id: string, text: string | undefined): void {
    const w = this.#waiting.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#stopFastPoll();
    w.resolve(text);
  }

  // While anyone waits, the inbox is read every pollMs rather than every poll interval.
  #startFastPoll(): void {
    if (this.#fast) return;
    this.#fast = setInterval(() => this.#kick?.(), this.#pollMs);
    this.#fast.unref();
  }

  #stopFastPoll(): void {
    clearInterval(this.#fast);
    this.#fast = undefined;
  }
}

/**
 * The process's one registry: the host may load this module more than once (one instance per
 * registration mode), and an answer must find its waiter whichever instance runs the account.
 */
export function processWaiters(pollMs: number): AnswerWaiters {
  const key = Symbol.for("openclaw-bundle.agent-registry.answer-waiters");
  const g = globalThis as Record<symbol, AnswerWaiters | undefined>;
  g[key] ??= new AnswerWaiters(pollMs);
  return g[key];
}
