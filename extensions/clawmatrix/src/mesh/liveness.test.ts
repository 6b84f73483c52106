import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CHECKS_PER_PING,
  LinkLiveness,
  PING_INTERVAL_MS,
  QUIET_AFTER_MS,
  SILENCE_LIMIT_MS,
  SilenceDetector,
} from "./liveness.ts";

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

  it("calls a peer quiet after quietMs, dead after silenceMs, and alive again once heard", () => {
    const d = new SilenceDetector({ intervalMs: 1000, silenceMs: 15_000, quietMs: 2000 }, 0);
    d.heard(0);
    expect(d.tick(1000)).toBe("alive");
    expect(d.tick(2000)).toBe("quiet");
    expect(d.tick(3000)).toBe("quiet");
    d.heard(3100);
    expect(d.tick(4000)).toBe("alive");
    for (let t = 5000; t < 18_100; t += 1000) expect(d.tick(t), `at ${t}`).not.toBe("dead");
    expect(d.tick(19_000)).toBe("dead");
  });

  it("refuses settings that could not tell silence from one lost ping", () => {
    expect(() => new SilenceDetector({ intervalMs: 500, silenceMs: 2500, quietMs: 900 }, 0)).toThrow(
      /2 x intervalMs <= quietMs <= silenceMs/,
    );
    expect(() => new SilenceDetector({ intervalMs: 500, silenceMs: 2500, quietMs: 3000 }, 0)).toThrow(
      RangeError,
    );
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
    expect(pings).toBe(10 * CHECKS_PER_PING); // offered at every check; the link sends when idle
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

  it("reports a quiet spell once, within a tick of QUIET_AFTER_MS, and its end when heard", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    const events: string[] = [];
    const l = new LinkLiveness({
      ping: () => {},
      onDead: () => events.push("dead"),
      onQuiet: (ms) => events.push(`quiet ${ms}`),
      onHeardAgain: () => events.push("heard"),
    });
    l.start();
    vi.advanceTimersByTime(QUIET_AFTER_MS + PING_INTERVAL_MS);
    expect(events).toEqual([expect.stringMatching(/^quiet \d+$/)]);
    const ms = Number(events[0]?.split(" ")[1]);
    expect(ms).toBeGreaterThanOrEqual(QUIET_AFTER_MS);
    expect(ms).toBeLessThanOrEqual(QUIET_AFTER_MS + PING_INTERVAL_MS);
    expect(l.quiet).toBe(true);
    vi.advanceTimersByTime(3 * PING_INTERVAL_MS); // still quiet: reported once
    l.heard();
    expect(l.quiet).toBe(false);
    l.heard();
    expect(events.slice(1)).toEqual(["heard"]);
    l.stop();
  });

  it("sees a quiet spell within a quarter interval of QUIET_AFTER_MS, however the last frame fell", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    for (const offset of [10, 260, 990]) {
      let quietAt = -1;
      const l = new LinkLiveness({ ping: () => {}, onDead: () => {}, onQuiet: (ms) => (quietAt = ms) });
      l.start();
      vi.advanceTimersByTime(PING_INTERVAL_MS + offset);
      l.heard(); // the last frame, just after a check (offset 10: 990 ms before the next ping tick)
      vi.advanceTimersByTime(QUIET_AFTER_MS + PING_INTERVAL_MS);
      expect(quietAt, `last frame ${offset} ms into an interval`).toBeGreaterThanOrEqual(QUIET_AFTER_MS);
      expect(quietAt).toBeLessThanOrEqual(QUIET_AFTER_MS + PING_INTERVAL_MS / CHECKS_PER_PING);
      l.stop();
    }
  });
});
