import { afterEach, describe, expect, it, vi } from "vitest";
import { Heartbeat, Periodic, Throttle } from "./periodic.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("Periodic", () => {
  it("never overlaps a slow run and stops cleanly", async () => {
    vi.useFakeTimers();
    let active = 0;
    let maxActive = 0;
    const p = new Periodic({ name: "t", intervalMs: 10, immediate: true }, async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 50));
      active--;
    });
    p.start();
    await vi.advanceTimersByTimeAsync(300);
    // stop() waits for the run in flight, which needs the (fake) clock to move.
    const stopped = p.stop();
    await vi.advanceTimersByTimeAsync(60);
    await stopped;
    const runs = p.runs;
    await vi.advanceTimersByTimeAsync(300);
    expect(maxActive).toBe(1);
    expect(runs).toBeGreaterThanOrEqual(4);
    expect(p.runs).toBe(runs);
  });

  it("reports task errors and keeps going", async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const p = new Periodic({ name: "t", intervalMs: 10, onError: (e) => errors.push(e) }, () => {
      throw new Error("nope");
    });
    p.start();
    await vi.advanceTimersByTimeAsync(35);
    await p.stop();
    expect(errors.length).toBe(3);
  });
});

describe("Heartbeat", () => {
  it("declares the link stale after N unanswered pings, and ack resets", async () => {
    vi.useFakeTimers();
    let pings = 0;
    const stale: number[] = [];
    const hb = new Heartbeat({
      intervalMs: 100,
      maxMissed: 2,
      ping: () => pings++,
      onStale: (m) => stale.push(m),
    });
    hb.start();
    await vi.advanceTimersByTimeAsync(200);
    hb.ack();
    await vi.advanceTimersByTimeAsync(200);
    expect(stale).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(stale).toEqual([2]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(stale).toEqual([2]);
    expect(pings).toBe(4);
  });
});

describe("Throttle", () => {
  it("runs a lone call at once and collapses a burst into one run at the gap's end", async () => {
    vi.useFakeTimers();
    let runs = 0;
    const t = new Throttle(100, () => runs++);
    expect(t.fire()).toBe(true);
    expect(runs).toBe(1);
    for (let i = 0; i < 10; i++) expect(t.fire()).toBe(false);
    expect(runs).toBe(1);
    expect(t.pending).toBe(true);
    await vi.advanceTimersByTimeAsync(99);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(runs).toBe(2);
    await vi.advanceTimersByTimeAsync(500);
    expect(runs).toBe(2);
    t.fire(); // after a quiet gap: at once again
    expect(runs).toBe(3);
  });

  it("stop drops a pending call and refuses more until started", async () => {
    vi.useFakeTimers();
    let runs = 0;
    const t = new Throttle(100, () => runs++);
    t.fire();
    t.fire();
    expect(t.pending).toBe(true);
    t.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(1);
    t.fire();
    expect(runs).toBe(1);
    t.start();
    t.fire();
    expect(runs).toBe(2);
  });
});
