import path from "node:path";
import { BoundedSet, readJsonFile, singleFlight, writeJsonAtomic } from "@openclaw-bundle/shared";
import { z } from "zod";
import type { TopicEvent } from "./client.ts";

/**
 * Pull ingress (EXTERNAL-APIS.md section 1): events are fetched from a per-topic waterline kept in
 * `~/.agentrux/waterline.json` (0600, atomic), in order, one drain at a time however many SSE
 * hints and poller ticks ask for one. The first start fast-forwards to the newest event. Each
 * event is dispatched once: duplicates by `event_id` (transport) and by `request_id`
 * (application) are dropped, and the request ids survive a restart in `dedup.json`, covering the
 * window where a crash falls between a dispatch and the waterline save.
 */

export const PAGE = 20;
export const REQUEST_ID_MEMORY = 2048;
const waterlineSchema = z.record(z.string(), z.number().int().min(0));
const dedupSchema = z.object({ requestIds: z.array(z.string().max(256)).max(REQUEST_ID_MEMORY) });

export interface IngressCounters {
  received: number;
  dispatched: number;
  deduplicated: number;
  failed: number;
}

export interface IngressOptions {
  dir: string;
  topic: string;
  read: (topic: string, after: number, limit: number) => Promise<TopicEvent[]>;
  /** Handles one event; a throw counts as failed and the event is not retried (answered as failed upstream). */
  dispatch: (ev: TopicEvent) => Promise<void>;
}

export function requestIdOf(ev: TopicEvent): string | undefined {
  const p = ev.payload as { request_id?: unknown } | null;
  return typeof p?.request_id === "string" && p.request_id.length <= 256 ? p.request_id : undefined;
}

export class Ingress {
  readonly counters: IngressCounters = { received: 0, dispatched: 0, deduplicated: 0, failed: 0 };
  readonly #o: IngressOptions;
  readonly #events = new BoundedSet<string>(REQUEST_ID_MEMORY);
  readonly #requests = new BoundedSet<string>(REQUEST_ID_MEMORY);
  readonly #recent: string[] = [];
  #waterline: number | undefined;
  #loaded = false;
  readonly drain: () => Promise<void>;

  constructor(o: IngressOptions) {
    this.#o = o;
    this.drain = singleFlight(() => this.#drain());
  }

  get waterline(): number | undefined {
    return this.#waterline;
  }

  get #waterlineFile(): string {
    return path.join(this.#o.dir, "waterline.json");
  }

  get #dedupFile(): string {
    return path.join(this.#o.dir, "dedup.json");
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    const w = waterlineSchema.safeParse((await readJsonFile(this.#waterlineFile)) ?? {});
    this.#waterline = w.success ? w.data[this.#o.topic] : undefined;
    const d = dedupSchema.safeParse((await readJsonFile(this.#dedupFile)) ?? { requestIds: [] });
    for (const id of d.success ? d.data.requestIds : []) this.#remember(id);
    this.#loaded = true;
  }

  #remember(requestId: string): void {
    if (!this.#requests.add(requestId)) return;
    this.#recent.push(requestId);
    if (this.#recent.length > REQUEST_ID_MEMORY) this.#recent.shift();
  }

  async #save(seq: number): Promise<void> {
    const all = waterlineSchema.safeParse((await readJsonFile(this.#waterlineFile)) ?? {});
    await writeJsonAtomic(
      this.#waterlineFile,
      { ...(all.success ? all.data : {}), [this.#o.topic]: seq },
      { mode: 0o600 },
    );
    this.#waterline = seq;
  }

  async #drain(): Promise<void> {
    await this.#load();
    if (this.#waterline === undefined) {
      // First start: only what is published from now on is ours to answer.
      let after = 0;
      for (;;) {
        const page = await this.#o.read(this.#o.topic, after, PAGE);
        if (page.length === 0) break;
        after = page[page.length - 1]?.sequence_no ?? after;
      }
      await this.#save(after);
      return;
    }
    for (;;) {
      const page = await this.#o.read(this.#o.topic, this.#waterline, PAGE);
      if (page.length === 0) return;
      for (const ev of page) {
        this.counters.received++;
        const rid = requestIdOf(ev);
        if (!this.#events.add(ev.event_id) || (rid !== undefined && this.#requests.has(rid))) {
          this.counters.deduplicated++;
        } else {
          if (rid !== undefined) {
            // Remembered before dispatch: a crash mid-dispatch never answers a request twice.
            this.#remember(rid);
            await writeJsonAtomic(this.#dedupFile, { requestIds: this.#recent }, { mode: 0o600 });
          }
          try {
            await this.#o.dispatch(ev);
            this.counters.dispatched++;
          } catch {
            this.counters.failed++;
          }
        }
        await this.#save(ev.sequence_no);
      }
    }
  }
}
