import path from "node:path";
import { BoundedSet, errorMessage, latestOnly, readJsonFile, writeJsonAtomic } from "@openclaw-bundle/shared";
import { z } from "zod";
import type { Position, TopicEvent } from "./wire.ts";

/**
 * Pull ingress (EXTERNAL-APIS.md section 1): events are fetched from a per-topic waterline kept in
 * `~/.agentrux/waterline.json` (0600, atomic), in order, by one reader however many SSE hints and
 * poller ticks ask for a drain (a hint during a drain buys exactly one more pass, so none is
 * lost). The first start fast-forwards to the newest event. Up to `maxConcurrency` requests are
 * handled at once; the waterline only passes an event once it and everything before it is done.
 * Each event is dispatched once: duplicates by `event_id` (transport) and by `request_id`
 * (application) are dropped. `dedup.json` keeps the recent request ids and the ones still being
 * handled: after a crash or a stop mid-turn, those are dispatched again on the next start
 * (re-read, since the waterline stayed before them), and the others are never answered twice.
 */

const PAGE = 20;
const REQUEST_ID_MEMORY = 2048;
// A sequence number (seed) or an event cursor (live); each topic keeps the kind its generation reads.
const waterlineSchema = z.record(z.string(), z.union([z.number().int().min(0), z.string().max(1024)]));
const dedupSchema = z.object({
  requestIds: z.array(z.string().max(300)).max(REQUEST_ID_MEMORY),
  inflight: z.array(z.string().max(300)).max(REQUEST_ID_MEMORY).default([]),
});

interface IngressCounters {
  received: number;
  dispatched: number;
  deduplicated: number;
  failed: number;
  /** Events that were not requests (e.g. another type on the topic): read, not answered. */
  ignored: number;
  /** Times the live service said the cursor had aged out of retention (read again from the oldest kept). */
  cursorExpired: number;
}

interface IngressOptions {
  dir: string;
  topic: string;
  /** Events after a position, oldest first; AGENTRUX_ERR_CURSOR_EXPIRED when the position aged out. */
  read: (topic: string, after: Position, limit: number) => Promise<TopicEvent[]>;
  /** The position after the topic's newest event (first start). */
  head: (topic: string) => Promise<Position>;
  /** The topic's start: where reading resumes when a cursor aged out (the oldest event kept). */
  start: Position;
  /** Whether a persisted position is of the kind this generation reads (else: a first start). */
  fits?: (p: unknown) => p is Position;
  /** Told when a cursor aged out; `oldest` is the oldest event the topic still holds, if any. */
  onCursorExpired?: (from: Position, oldest: string | null) => void;
  /** Handles one event (false: not a request, counted as ignored); a throw counts as failed and the event is not retried (answered as failed upstream). */
  dispatch: (ev: TopicEvent) => Promise<unknown>;
  /** Events handled at once (default 1: strictly in order). */
  maxConcurrency?: number;
  /** Event and request ids remembered, in memory and on disk (default REQUEST_ID_MEMORY). */
  memory?: number;
}

function requestIdOf(ev: TopicEvent): string | undefined {
  const p = ev.payload as { request_id?: unknown } | null;
  return typeof p?.request_id === "string" && p.request_id.length <= 256 ? p.request_id : undefined;
}

/** The key an event is remembered by: its request id, or its event id when it has none. */
const keyOf = (ev: TopicEvent) => requestIdOf(ev) ?? `event:${ev.event_id}`;

export class Ingress {
  readonly counters: IngressCounters = {
    received: 0,
    dispatched: 0,
    deduplicated: 0,
    failed: 0,
    ignored: 0,
    cursorExpired: 0,
  };
  readonly #o: IngressOptions;
  readonly #max: number;
  readonly #memory: number;
  readonly #events: BoundedSet<string>;
  readonly #requests: BoundedSet<string>;
  readonly #recent: string[] = [];
  /** Keys being handled now (persisted), and keys a previous run left unfinished. */
  readonly #inflight = new Set<string>();
  readonly #interrupted = new Set<string>();
  /**
   * Events being handled, by the order they were read in (ordinal -> the position before each):
   * the waterline stays before the first of them. Live cursors are opaque, so order is ours.
   */
  readonly #pending = new Map<number, Position>();
  #ordinal = 0;
  readonly #running = new Set<Promise<void>>();
  #waterline: Position | undefined;
  /** Position of the last event read and scheduled (in memory; ahead of the waterline while busy). */
  #cursor: Position = 0;
  #loaded = false;
  #drainP: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #writes: Promise<void> = Promise.resolve();
  /** One save at a time; calls during it share the next (dispatches in a row write once, not each). */
  readonly #save = latestOnly(() => this.#write());
  /** The next save writes the waterline even when it did not move (it was rewound). */
  #rewound = false;
  /** Other topics' positions in the shared waterline file, as loaded (this ingress is its one writer). */
  #others: Record<string, Position> = {};
  /** The last failure to save the waterline or dedup file (the next save retries). */
  saveError: string | undefined;

  constructor(o: IngressOptions) {
    this.#o = o;
    this.#max = Math.max(1, o.maxConcurrency ?? 1);
    this.#memory = Math.min(REQUEST_ID_MEMORY, Math.max(1, o.memory ?? REQUEST_ID_MEMORY));
    this.#events = new BoundedSet<string>(this.#memory);
    this.#requests = new BoundedSet<string>(this.#memory);
  }

  get waterline(): Position | undefined {
    return this.#waterline;
  }

  /** Requests being handled right now. */
  get active(): number {
    return this.#pending.size;
  }

  get #waterlineFile(): string {
    return path.join(this.#o.dir, "waterline.json");
  }

  get #dedupFile(): string {
    return path.join(this.#o.dir, "dedup.json");
  }

  /** One reader at a time; a call while it runs makes it read once more before it ends. */
  drain(): Promise<void> {
    if (this.#drainP) {
      this.#again = true;
      return this.#drainP;
    }
    this.#drainP = (async () => {
      try {
        do {
          this.#again = false;
          await this.#drain();
        } while (this.#again);
      } finally {
        this.#drainP = undefined;
      }
    })();
    return this.#drainP;
  }

  /**
   * Reads nothing more. A dispatch that fails from now on (its turn aborted by the stop) stays
   * in flight on disk, to be dispatched again on the next start.
   */
  stop(): void {
    this.#stopped = true;
  }

  /** Resolves when every dispatched event is handled and its waterline saved. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    await this.#writes;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    const w = waterlineSchema.safeParse((await readJsonFile(this.#waterlineFile)) ?? {});
    const { [this.#o.topic]: saved, ...others } = w.success ? w.data : {};
    this.#others = others;
    // A position of the other generation's kind cannot be resumed from: start as new.
    this.#waterline = saved !== undefined && (this.#o.fits?.(saved) ?? true) ? saved : undefined;
    this.#cursor = this.#waterline ?? this.#o.start;
    const d = dedupSchema.safeParse((await readJsonFile(this.#dedupFile)) ?? { requestIds: [] });
    for (const id of d.success ? d.data.requestIds : []) this.#remember(id);
    for (const id of d.success ? d.data.inflight : []) this.#interrupted.add(id);
    this.#loaded = true;
  }

  #remember(key: string): void {
    if (!this.#requests.add(key)) return;
    this.#recent.push(key);
    if (this.#recent.length > this.#memory) this.#recent.shift();
  }

  /**
   * Saves the state as it is when the save starts. Saves never overlap, so a file never goes back
   * to an older state. `dedup.json` goes first: the waterline never passes a request whose
   * in-flight mark is still on disk (a start would take the mark for an interrupted request and
   * answer a later copy of it again).
   */
  #persist(rewound = false): Promise<void> {
    if (rewound) this.#rewound = true;
    this.#writes = this.#save().catch((err) => {
      this.saveError = errorMessage(err);
    });
    return this.#writes;
  }

  async #write(): Promise<void> {
    this.saveError = undefined;
    const rewound = this.#rewound;
    this.#rewound = false;
    const first = this.#pending.size > 0 ? Math.min(...this.#pending.keys()) : undefined;
    const done = first === undefined ? this.#cursor : (this.#pending.get(first) as Position);
    try {
      await writeJsonAtomic(
        this.#dedupFile,
        { requestIds: this.#recent, inflight: [...this.#inflight] },
        { mode: 0o600 },
      );
      if (!rewound && this.#waterline !== undefined && done === this.#waterline) return;
      await writeJsonAtomic(this.#waterlineFile, { ...this.#others, [this.#o.topic]: done }, { mode: 0o600 });
      this.#waterline = done;
    } catch (err) {
      this.#rewound ||= rewound;
      throw err;
    }
  }

  async #slot(): Promise<void> {
    while (this.#running.size >= this.#max) await Promise.race(this.#running);
  }

  async #drain(): Promise<void> {
    await this.#load();
    if (this.#waterline === undefined) {
      // First start: only what is published from now on is ours to answer.
      this.#cursor = await this.#o.head(this.#o.topic);
      await this.#persist();
      return;
    }
    while (!this.#stopped) {
      const page = await this.#page();
      if (page === undefined) continue;
      if (page.length === 0) return;
      for (const ev of page) {
        if (this.#stopped) return;
        // A seed page that overlaps what is scheduled (live cursors have no order to compare).
        if (
          typeof ev.position === "number" &&
          typeof this.#cursor === "number" &&
          ev.position <= this.#cursor
        )
          continue;
        this.counters.received++;
        const key = keyOf(ev);
        const retry = this.#interrupted.delete(key);
        if (!this.#events.add(ev.event_id) || (!retry && this.#requests.has(key))) {
          this.counters.deduplicated++;
          this.#cursor = ev.position;
          continue;
        }
        await this.#slot();
        if (this.#stopped) return;
        this.#remember(key);
        this.#inflight.add(key);
        const ordinal = this.#ordinal++;
        this.#pending.set(ordinal, this.#cursor);
        this.#cursor = ev.position;
        // Remembered in memory before dispatch: a copy read meanwhile is dropped. The save of the
        // in-flight mark is not awaited (it cost each request a synced write before its turn):
        // until the request is done the waterline stays before it, so after a crash the next
        // start reads it again and dispatches it once, whether or not the mark reached the disk.
        void this.#persist();
        const run = this.#o
          .dispatch(ev)
          .then(
            (handled) => (handled === false ? "ignored" : "ok"),
            () => "failed" as const,
          )
          .then((outcome) => {
            if (outcome === "failed" && this.#stopped) return; // interrupted: left for the next start
            if (outcome === "ok") this.counters.dispatched++;
            else if (outcome === "ignored") this.counters.ignored++;
            else this.counters.failed++;
            this.#inflight.delete(key);
            this.#pending.delete(ordinal);
            return this.#persist();
          })
          .finally(() => this.#running.delete(run));
        this.#running.add(run);
      }
      // Events skipped as duplicates move the waterline too.
      if (this.#pending.size === 0) await this.#persist();
    }
  }

  /**
   * The next page, or undefined after a cursor that aged out of the topic's retention: reading
   * then resumes at the start, i.e. the oldest event still kept, so nothing still retrievable is
   * lost; what was read before is dropped by event id and request id, not answered twice.
   */
  async #page(): Promise<TopicEvent[] | undefined> {
    try {
      return await this.#o.read(this.#o.topic, this.#cursor, PAGE);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== "AGENTRUX_ERR_CURSOR_EXPIRED" || this.#cursor === this.#o.start) throw err;
      const oldest = (err as { details?: { oldest?: string | null } }).details?.oldest ?? null;
      this.counters.cursorExpired++;
      this.#o.onCursorExpired?.(this.#cursor, oldest);
      for (const [ordinal, before] of this.#pending)
        if (before !== this.#o.start) this.#pending.set(ordinal, this.#o.start);
      this.#cursor = this.#o.start;
      await this.#persist(true);
      return undefined;
    }
  }
}
