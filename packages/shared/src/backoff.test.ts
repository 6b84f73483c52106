import { describe, expect, it } from "vitest";
import { Backoff, sleep } from "./backoff.ts";

describe("Backoff", () => {
  it("doubles from 1 s to a 60 s cap without jitter, and resets", () => {
    const b = new Backoff({ jitter: 0 });
    const seq = Array.from({ length: 9 }, () => b.next());
    expect(seq).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it("spreads delays within the jitter band", () => {
    const lo = new Backoff({ jitter: 0.2, random: () => 0 }).next();
    const hi = new Backoff({ jitter: 0.2, random: () => 0.999999 }).next();
    expect(lo).toBe(800);
    expect(hi).toBe(1200);
  });

  it("refuses nonsense options, naming the value", () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(/initialMs=0/);
    expect(() => new Backoff({ jitter: 2 })).toThrow(/got 2/);
  });

  it("sleep rejects when aborted", async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
  });
});
