import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import type { TopicEvent } from "./client.ts";
import { Ingress } from "./ingress.ts";

// The pull ingress against an in-memory topic: order, dedup, waterline and crash safety.

let dir: string;
let topic: TopicEvent[];
let reads: number;
const publish = (requestId?: string, eventId?: string) => {
  const n = topic.length + 1;
  topic.push({
    event_id: eventId ?? `ev${n}`,
    sequence_no: n,
    type: "openclaw.request",
    payload: { request_id: requestId ?? `r${n}`, message: `m${n}` },
  });
};
const read = async (_t: string, after: number, limit: number) => {
  reads++;
  await new Promise((r) => setTimeout(r, 1));
  return topic.filter((e) => e.sequence_no > after).slice(0, limit);
};
const ingress = (seen: string[]) =>
  new Ingress({
    dir,
    topic: "cmd",
    read,
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
    expect(reads).toBe(2); // one page, then the empty page that ends the drain
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
    expect(seen).toEqual(["a", "c"]);
    expect(ing.counters).toEqual({ received: 4, dispatched: 2, deduplicated: 2, failed: 0 });
  });

  it("never answers twice after a crash between dispatch and the waterline save, and resumes after a restart", async () => {
    const seen: string[] = [];
    const first = ingress(seen);
    await first.drain();
    publish();
    publish();
    await first.drain();
    expect(seen).toEqual(["r1", "r2"]);
    // The crash: r2 was dispatched but the waterline still says 1.
    await fs.writeFile(waterlineFile(), JSON.stringify({ cmd: 1 }));
    publish();
    const after: string[] = [];
    await ingress(after).drain();
    expect(after).toEqual(["r3"]);
    expect(JSON.parse(await fs.readFile(waterlineFile(), "utf8"))).toEqual({ cmd: 3 });
  });

  it("counts a failed dispatch and moves on", async () => {
    const ing = new Ingress({
      dir,
      topic: "cmd",
      read,
      dispatch: async () => {
        throw new Error("agent failed");
      },
    });
    await ing.drain();
    publish();
    await ing.drain();
    expect(ing.counters.failed).toBe(1);
    expect(ing.waterline).toBe(1);
  });
});
