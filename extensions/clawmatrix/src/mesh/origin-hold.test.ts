import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RoutedFrame } from "../protocol/frames.ts";
import { OriginHold } from "./origin-hold.ts";

// PROTOCOL §6a first contact, without sockets: frames wait for their origin's key, bounded.

const frame = (src: string, id: string): RoutedFrame => ({
  t: "req",
  id: `${id}-0123456789`,
  src,
  dst: "node-b",
  ttl: 8,
  kind: "chat",
  body: id,
});

describe("OriginHold", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("gives back an origin's frames in order once its key is known, and nothing twice", () => {
    const expired: RoutedFrame[][] = [];
    const h = new OriginHold((f) => expired.push(f), { holdMs: 1000, maxHeld: 10, maxPerOrigin: 5 });
    expect(h.hold(frame("c", "1"))).toBe(true);
    expect(h.hold(frame("d", "x"))).toBe(true);
    expect(h.hold(frame("c", "2"))).toBe(true);
    expect(h.size).toBe(3);
    expect(h.take("c").map((f) => f.id.slice(0, 1))).toEqual(["1", "2"]);
    expect(h.take("c")).toEqual([]);
    expect(h.size).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(expired.map((fs) => fs.map((f) => f.src))).toEqual([["d"]]);
    expect(h.size).toBe(0);
  });

  it("expires an origin's frames at its first frame's deadline: a flood does not extend it", () => {
    const expired: RoutedFrame[][] = [];
    const h = new OriginHold((f) => expired.push(f), { holdMs: 1000, maxHeld: 10, maxPerOrigin: 5 });
    h.hold(frame("c", "1"));
    vi.advanceTimersByTime(900);
    h.hold(frame("c", "2"));
    vi.advanceTimersByTime(100);
    expect(expired).toHaveLength(1);
    expect(expired[0]?.map((f) => f.id.slice(0, 1))).toEqual(["1", "2"]);
  });

  it("refuses past the per-origin and total caps, and clear() drops everything", () => {
    const expired: RoutedFrame[][] = [];
    const h = new OriginHold((f) => expired.push(f), { holdMs: 1000, maxHeld: 4, maxPerOrigin: 2 });
    expect([1, 2, 3].map((i) => h.hold(frame("c", `${i}`)))).toEqual([true, true, false]);
    expect([1, 2, 3].map((i) => h.hold(frame("d", `${i}`)))).toEqual([true, true, false]);
    expect(h.hold(frame("e", "1"))).toBe(false);
    expect(h.size).toBe(4);
    h.clear();
    expect(h.size).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual([]);
  });

  it("holds frames of at most 64 origins at once (one timer each)", () => {
    const h = new OriginHold(() => {}, { holdMs: 1000, maxHeld: 1000, maxPerOrigin: 5 });
    const held = Array.from({ length: 70 }, (_, i) => h.hold(frame(`o${i}`, "1")));
    expect(held.filter(Boolean)).toHaveLength(64);
  });
});
