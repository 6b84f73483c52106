import { afterEach, describe, expect, it, vi } from "vitest";
import { LinkLiveness, PING_INTERVAL_MS, SILENCE_LIMIT_MS, SilenceDetector } from "./liveness.ts";

// PROTOCOL §1 liveness without sockets: the clock is passed in, or faked.

describe("SilenceDetector", () => {
  it("declares a silent peer dead within silence + one interval, never before the silence", () => {
    const d = new SilenceDetector({ intervalMs: 500, silenceMs: 2500 }, 0);
    let t = 0;
    for (; t < 3000; t += 500) {
      d.heard(t);
      expect(d.tick(t)).toBe("alive");
    }
    // Silence starts at any point between two ticks: the verdict comes within 3 s of the last frame.
    for (const lastHeard of [3000, 3001, 3250, 3499]) {
      const e = new SilenceDetector({ intervalMs: 500, silenceMs: 2500 }, 0);
      for (let u = 0; u <= lastHeard; u += 500) e.tick(u);
      e.heard(lastHeard);
      let dead = -1;
      for (let u = Math.ceil(lastHeard / 500) * 500 + 500; dead < 0; u += 500)
        if (e.tick(u) === "dead") dead = u;
      expect(dead - lastHeard, `last heard at ${lastHeard}`).toBeGreaterThanOrEqual(2500);
      expect(dead - lastHeard, `last heard at ${lastHeard}`).toBeLessThanOrEqual(3000);
    }
  });

  it("does not judge on a late tick (this process stalled) but on the next one", () => {
    const d = new SilenceDetector({ intervalMs: 500, silenceMs: 2500 }, 0);
    d.tick(500);
    // A 4 s stall: the peer's pings sit unread in the socket, nothing heard meanwhile.
    expect(d.tick(4500)).toBe("late");
    d.heard(4510); // read right after the stall
    expect(d.tick(5000)).toBe("alive");
    // A real silence after a stall is still caught one interval later.
    const e = new SilenceDetector({ intervalMs: 500, silenceMs: 2500 }, 0);
    e.tick(500);
    expect(e.tick(4500)).toBe("late");
    expect(e.tick(5000)).toBe("dead");
  });

  it("refuses settings that could not tell silence from one lost ping", () => {
    expect(() => new SilenceDetector({ intervalMs: 500, silenceMs: 900 }, 0)).toThrow(
      /silenceMs >= 2 x intervalMs/,
    );
    expect(() => new SilenceDetector({ intervalMs: 0, silenceMs: 900 }, 0)).toThrow(RangeError);
  });
});

describe("LinkLiveness", () => {
  afterEach(() => vi.useRealTimers());

  it("pings every interval while frames are heard, reports silence once, and stops cleanly", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    let pings = 0;
    const dead: number[] = [];
    const l = new LinkLiveness({ ping: () => pings++, onDead: (ms) => dead.push(ms) });
    l.start();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(PING_INTERVAL_MS);
      l.heard();
    }
    expect(pings).toBe(10);
    expect(dead).toEqual([]);
    vi.advanceTimersByTime(SILENCE_LIMIT_MS + PING_INTERVAL_MS);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toBeGreaterThanOrEqual(SILENCE_LIMIT_MS);
    vi.advanceTimersByTime(10_000);
    expect(dead).toHaveLength(1);
    const before = pings;
    const m = new LinkLiveness({ ping: () => pings++, onDead: () => {} });
    m.start();
    m.stop();
    vi.advanceTimersByTime(10_000);
    expect(pings).toBe(before);
  });
});
