/**
 * Pieces of a stream merged while the way out is busy (issue 17, PROTOCOL §7). The first piece,
 * and any piece that finds the way out idle, is sent at once; pieces that come while an earlier
 * send has not drained wait in one pending piece, sent as one when the way out is ready again.
 * A model that streams many small events faster than the link takes them then costs a few
 * frames instead of one per event, and a slow trickle still goes out piece by piece. Pure: the
 * caller says how to send and how to wait, so it is tested without sockets or timers.
 */

/** Pieces are text, or bytes (a stream passed on as it came, PROTOCOL §3a). */
type Piece = string | Buffer;

export interface CoalescerOptions<T extends Piece> {
  /** Sends one piece (merged or not) on its way. */
  send(data: T): void;
  /**
   * Calls `ready` once the way out can take another piece (the data sent so far has drained,
   * and at least the current tick is over); returns a function that cancels the wait.
   */
  whenReady(ready: () => void): () => void;
  /** The most a merged piece may hold, counted by `size`. A single bigger piece goes out alone. */
  maxSize: number;
  /** The size of a piece, in the unit of `maxSize` (default: its length). */
  size?: (data: T) => number;
}

const join = <T extends Piece>(parts: T[]): T =>
  (typeof parts[0] === "string" ? parts.join("") : Buffer.concat(parts as Buffer[])) as T;

export class Coalescer<T extends Piece = string> {
  readonly #o: CoalescerOptions<T>;
  readonly #size: (data: T) => number;
  #pending: T[] = [];
  #pendingSize = 0;
  /** True while a sent piece has not drained: new pieces wait. */
  #busy = false;
  #cancelWait: (() => void) | undefined;
  /** Tells a stale `ready` (of a wait already cancelled or overtaken) from the current one. */
  #wait = 0;
  #closed = false;
  /** Pieces pushed, and pieces sent (merged ones count once): their ratio is the coalescing. */
  pushed = 0;
  sent = 0;

  constructor(o: CoalescerOptions<T>) {
    this.#o = o;
    this.#size = o.size ?? ((d) => d.length);
  }

  /** Whether pieces are waiting. */
  get pending(): boolean {
    return this.#pending.length > 0;
  }

  push(data: T): void {
    if (this.#closed) return;
    this.pushed++;
    if (!this.#busy) {
      this.#send(data);
      return;
    }
    const n = this.#size(data);
    // A full pending piece goes out now rather than grow past the bound; it stays in order.
    if (this.#pending.length > 0 && this.#pendingSize + n > this.#o.maxSize) this.#sendPending();
    this.#pending.push(data);
    this.#pendingSize += n;
  }

  /** Sends what is pending at once: before the stream's end, which must follow all its data. */
  flush(): void {
    if (this.#pending.length > 0 && !this.#closed) this.#sendPending();
  }

  /** Drops what is pending and stops waiting: the stream was aborted or is over. */
  close(): void {
    this.#closed = true;
    this.#stopWaiting();
    this.#pending = [];
    this.#pendingSize = 0;
  }

  #stopWaiting(): void {
    this.#wait++;
    this.#busy = false;
    const cancel = this.#cancelWait;
    this.#cancelWait = undefined;
    cancel?.();
  }

  #sendPending(): void {
    const data = this.#pending.length === 1 ? (this.#pending[0] as T) : join(this.#pending);
    this.#pending = [];
    this.#pendingSize = 0;
    this.#send(data);
  }

  #send(data: T): void {
    this.#stopWaiting();
    this.sent++;
    this.#o.send(data);
    if (this.#closed) return;
    const wait = ++this.#wait;
    this.#busy = true;
    const cancel = this.#o.whenReady(() => {
      if (wait !== this.#wait) return;
      this.#busy = false;
      this.#cancelWait = undefined;
      if (this.#pending.length > 0) this.#sendPending();
    });
    // A wait that ended at once (ready called synchronously) has nothing left to cancel.
    if (this.#busy && wait === this.#wait) this.#cancelWait = cancel;
  }
}
