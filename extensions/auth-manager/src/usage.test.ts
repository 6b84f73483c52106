import { describe, expect, it } from "vitest";
import { normalizeUsage, UsageAccumulator } from "./usage.ts";

describe("normalizeUsage", () => {
  it.each([
    [
      "host llm_output",
      { input: 10, output: 5, cacheRead: 2, cacheWrite: 1, total: 18 },
      { tokensIn: 13, tokensOut: 5 },
    ],
    [
      "OpenAI chat",
      { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
      { tokensIn: 7, tokensOut: 3 },
    ],
    ["Responses API", { input_tokens: 4, output_tokens: 2 }, { tokensIn: 4, tokensOut: 2 }],
    ["direct counters", { tokens_in: 9, tokens_out: 1 }, { tokensIn: 9, tokensOut: 1 }],
    ["only a total", { total: 12 }, { tokensIn: 12, tokensOut: 0 }],
  ])("reads %s usage", (_name, raw, expected) => {
    expect(normalizeUsage(raw)).toEqual(expected);
  });

  it.each([undefined, null, {}, { input: -1 }, { prompt_tokens: "7" }, { total: Number.NaN }])(
    "invents nothing from %j",
    (raw) => {
      expect(normalizeUsage(raw)).toBeUndefined();
    },
  );
});

describe("UsageAccumulator", () => {
  it("keeps counts a failed flush did not report, and what arrived during a flush", () => {
    const acc = new UsageAccumulator();
    acc.switchLease("l1");
    acc.add({ tokensIn: 10, tokensOut: 2 });
    const snap = acc.snapshot();
    acc.add({ tokensIn: 1, tokensOut: 1 }); // arrives while the flush is in flight
    acc.commit(snap);
    expect(acc.pending).toMatchObject({ requests: 1, tokensIn: 1, tokensOut: 1 });
  });

  it("resets counters when the lease changes and hands back what was pending", () => {
    const acc = new UsageAccumulator();
    acc.switchLease("l1");
    acc.add({ tokensIn: 3, tokensOut: 4 });
    expect(acc.switchLease("l1")).toBeUndefined();
    expect(acc.switchLease("l2")).toMatchObject({ leaseId: "l1", requests: 1, tokensIn: 3 });
    expect(acc.pending).toMatchObject({ leaseId: "l2", requests: 0, tokensIn: 0, tokensOut: 0 });
    const stale = { leaseId: "l1", requests: 1, tokensIn: 3, tokensOut: 4, firstAt: undefined };
    acc.add({ tokensIn: 1, tokensOut: 1 });
    acc.commit(stale);
    expect(acc.pending.requests).toBe(1);
  });
});
