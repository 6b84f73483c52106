import { afterEach, describe, expect, it, vi } from "vitest";
import { AnswerWaiters, MAX_WAITERS } from "./answer-waiters.ts";

afterEach(() => vi.useRealTimers());

describe("AnswerWaiters", () => {
  it("delivers an answer to its waiter once, and tells a stray answer apart", async () => {
    const w = new AnswerWaiters(1_000);
    const a = w.wait("q1", 10_000);
    expect(w.deliver("q2", "not yours")).toBe(false);
    expect(w.deliver("q1", "yes")).toBe(true);
    expect(await a.promise).toBe("yes");
    expect(w.deliver("q1", "again")).toBe(false);
    expect(w.size).toBe(0);
  });

  it("ends a wait at its deadline with no answer, and an empty answer counts as none", async () => {
    vi.useFakeTimers();
    const w = new AnswerWaiters(1_000);
    const late = w.wait("q1", 5_000);
    const empty = w.wait("q2", 5_000);
    w.deliver("q2", "");
    expect(await empty.promise).toBeUndefined();
    vi.advanceTimersByTime(5_000);
    expect(await late.promise).toBeUndefined();
    expect(w.size).toBe(0);
  });

  it("reads the inbox every poll interval only while someone waits, through the newest account", () => {
    vi.useFakeTimers();
    const w = new AnswerWaiters(1_000);
    const calls: string[] = [];
    const detachOld = w.attach(() => calls.push("old"));
    w.attach(() => calls.push("new"));
    detachOld(); // the old account's stop, finishing after its successor started
    vi.advanceTimersByTime(3_000);
    expect(calls).toEqual([]);
    const a = w.wait("q1", 60_000);
    vi.advanceTimersByTime(2_000);
    expect(calls).toEqual(["new", "new"]);
    a.cancel();
    vi.advanceTimersByTime(5_000);
    expect(calls).toEqual(["new", "new"]);
  });

  it("refuses more than MAX_WAITERS waits at once, saying why", () => {
    const w = new AnswerWaiters(1_000);
    const all = Array.from({ length: MAX_WAITERS }, (_, i) => w.wait(`q${i}`, 60_000));
    expect(() => w.wait("one-more", 60_000)).toThrow(`${MAX_WAITERS} contacts already wait`);
    for (const a of all) a.cancel();
    expect(w.size).toBe(0);
  });
});
