import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Ingress } from "./ingress.ts";
import type { Position, TopicEvent } from "./wire.ts";

// The pull ingress against an in-memory topic: order, dedup, waterline and crash safety.

let dir: string;
let topic: TopicEvent[];
let reads: number;
const publish = (requestId?: string, eventId?: string) => {
  const n = topic.length + 1;
  topic.push({
    event_id: eventId ?? `ev${n}`,
    position: n,
    type: "openclaw.request",
    payload: { request_id: requestId ?? `r${n}`, message: `m${n}` },
  });
};
const read = async (_t: string, after: Position, limit: number) => {
  reads++;
  await new Promise((r) => setTimeout(r, 1));
  return topic.filter((e) => (e.position as number) > (after as number)).slice(0, limit);
};
/** As the seed client finds a topic's end. */
const head = async () => (topic.at(-1)?.position as number | undefined) ?? 0;
const ingress = (seen: string[], memory?: number) =>
  new Ingress({
    dir,
    topic: "cmd",
    memory,
    read,
    head,
    start: 0,
    dispatch: async (ev) => void seen.push((ev.payload as { request_id: string }).request_id),
  });
const waterlineFile = () => path.join(dir, "waterline.json");

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "ingress-"));
  topic = [];
  reads = 0;
});

describe("ingress", () => {
  it("fast-forwards on first start, then dispatches new events in order and saves the waterline 0600", async () => {
    for (let i = 0; i < 45; i++) publish();
    const seen: string[] = [];
    const ing = ingress(seen);
    await ing.drain();
    expect(seen).toEqual([]);
    expect(ing.waterline).toBe(45);
    publish();
    publish();
    await ing.drain();
    await ing.idle();
    expect(seen).toEqual(["r46", "r47"]);
    expect(JSON.parse(await fs.readFile(waterlineFile(), "utf8"))).toEqual({ cmd: 47 });
    expect((await fs.stat(waterlineFile())).mode & 0o777).toBe(0o600);
  });

  it("runs one drain for many concurrent hints", async () => {
    const seen: string[] = [];
    const ing = ingress(seen);
    await ing.drain();
    for (let i = 0; i < 5; i++) publish();
    reads = 0;
    await Promise.all(Array.from({ length: 20 }, () => ing.drain()));
    expect(seen).toEqual(["r1", "r2", "r3", "r4", "r5"]);
    // One page and the empty page that ends the pass, then one more pass (its empty page) for
    // the hints that arrived during the first.
    expect(reads).toBe(3);
  });

  it("drops a repeated event id and a repeated request id", async () => {
    const seen: string[] = [];
    const ing = ingress(seen);
    await ing.drain();
    publish("a", "ev-x");
    publish("b", "ev-x"); // the transport redelivered ev-x under a new sequence number
    publish("a"); // the client retried request a
    publish("c");
    await ing.drain();
    await ing.idle();
    expect(seen).toEqual(["a", "c"]);
    expect(ing.counters).toEqual({
      received: 4,
      dispatched: 2,
      deduplicated: 2,
      failed: 0,
      ignored: 0,
      cursorExpired: 0,
    });
  });

  it("never answers twice after a crash between dispatch and the waterline save, and resumes after a restart", async () => {
    const seen: string[] = [];
    const first = ingress(seen);
    await first.drain();
    publish();
    publish();
    await first.drain();
    await first.idle();
    expect(seen).toEqual(["r1", "r2"]);
    // The crash: r2 was dispatched but the waterline still says 1.
    await fs.writeFile(waterlineFile(), JSON.stringify({ cmd: 1 }));
    publish();
    const after: string[] = [];
    const second = ingress(after);
    await second.drain();
    await second.idle();
    expect(after).toEqual(["r3"]);
    expect(JSON.parse(await fs.readFile(waterlineFile(), "utf8"))).toEqual({ cmd: 3 });
  });

  const MEMORY = 40;
  it("keeps its request-id memory bounded on disk, remembering the newest ids across a restart", async () => {
    const seen: string[] = [];
    const first = ingress(seen, MEMORY);
    await first.drain();
    const n = MEMORY + 50;
    for (let i = 0; i < n; i++) publish(`q${i}`);
    await first.drain();
    await first.idle();
    expect(seen).toHaveLength(n);
    const saved = JSON.parse(await fs.readFile(path.join(dir, "dedup.json"), "utf8")) as {
      requestIds: string[];
    };
    expect(saved.requestIds).toHaveLength(MEMORY);
    expect(saved.requestIds).not.toContain("q0");
    // A retried recent request after a restart is still dropped; the oldest were forgotten.
    publish(`q${n - 1}`);
    const after: string[] = [];
    const second = ingress(after, MEMORY);
    await second.drain();
    await second.idle();
    expect(after).toEqual([]);
    expect(second.counters.deduplicated).toBe(1);
  });

  it("counts a failed dispatch and moves on", async () => {
    const ing = new Ingress({
      dir,
      topic: "cmd",
      read,
      head,
      start: 0,
      dispatch: async () => {
        throw new Error("agent failed");
      },
    });
    await ing.drain();
    publish();
    await ing.drain();
    await ing.idle();
    expect(ing.counters.failed).toBe(1);
    expect(ing.waterline).toBe(1);
  });

  it("handles up to maxConcurrency at once, and the waterline never passes an unfinished event", async () => {
    const release = new Map<string, () => void>();
    let active = 0;
    let peak = 0;
    const ing = new Ingress({
      dir,
      topic: "cmd",
      read,
      head,
      start: 0,
      maxConcurrency: 3,
      dispatch: async (ev) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise<void>((r) => release.set((ev.payload as { request_id: string }).request_id, r));
        active--;
      },
    });
    await ing.drain();
    for (let i = 0; i < 6; i++) publish();
    const drained = ing.drain();
    await until(() => release.size === 3);
    expect(ing.active).toBe(3);
    release.get("r2")?.(); // finishes out of order
    await until(() => release.size === 4);
    await new Promise((r) => setTimeout(r, 20));
    expect(ing.waterline).toBe(0); // r1 still runs
    release.get("r1")?.();
    await until(() => release.size === 5);
    await new Promise((r) => setTimeout(r, 20));
    expect(ing.waterline).toBe(2);
    for (const id of ["r3", "r4", "r5", "r6"]) {
      await until(() => release.has(id));
      release.get(id)?.();
    }
    await drained;
    await ing.idle();
    expect(peak).toBe(3);
    expect(ing.waterline).toBe(6);
    expect(ing.counters).toMatchObject({ dispatched: 6, failed: 0 });
  });

  it("after a stop mid-turn, dispatches the interrupted request again on the next start, and only it", async () => {
    const abort = new AbortController();
    const seen: string[] = [];
    const first = new Ingress({
      dir,
      topic: "cmd",
      read,
      head,
      start: 0,
      dispatch: async (ev) => {
        const id = (ev.payload as { request_id: string }).request_id;
        seen.push(id);
        if (id === "r2")
          await new Promise((_, reject) =>
            abort.signal.addEventListener("abort", () => reject(new Error("aborted"))),
          );
      },
    });
    await first.drain();
    publish();
    publish();
    publish();
    const drained = first.drain();
    await until(() => seen.includes("r2"));
    first.stop();
    abort.abort();
    await drained;
    await first.idle();
    expect(seen).toEqual(["r1", "r2"]);
    expect(first.waterline).toBe(1);
    const after: string[] = [];
    const second = ingress(after);
    await second.drain();
    await second.idle();
    expect(after).toEqual(["r2", "r3"]);
    expect(second.waterline).toBe(3);
  });

  it("never loses a hint that arrives while a drain is finishing", async () => {
    const seen: string[] = [];
    let armed = false;
    const ing: Ingress = new Ingress({
      dir,
      topic: "cmd",
      dispatch: async (ev) => void seen.push((ev.payload as { request_id: string }).request_id),
      head,
      start: 0,
      read: async (t, after, limit) => {
        const page = await read(t, after, limit);
        if (armed && page.length === 0) {
          // The drain has just seen the topic empty; the event and its hint arrive now.
          armed = false;
          publish();
          void ing.drain();
        }
        return page;
      },
    });
    await ing.drain();
    armed = true;
    await ing.drain();
    await ing.idle();
    expect(seen).toEqual(["r1"]);
  });
  it("counts an event its dispatcher leaves alone as ignored, not dispatched, and moves past it", async () => {
    const ing = new Ingress({
      dir,
      topic: "cmd",
      read,
      head,
      start: 0,
      // As dispatchRequest does: false for an event that is not a request.
      dispatch: async (ev) => ev.type !== "openclaw.response",
    });
    await ing.drain();
    publish();
    topic.push({
      event_id: "ev-other",
      position: 2,
      type: "openclaw.response",
      payload: { request_id: "x" },
    });
    publish();
    await ing.drain();
    await ing.idle();
    expect(ing.counters).toEqual({
      received: 3,
      dispatched: 2,
      deduplicated: 0,
      failed: 0,
      ignored: 1,
      cursorExpired: 0,
    });
    expect(ing.waterline).toBe(3);
  });
});

async function until(ok: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}
