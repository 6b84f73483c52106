import { describe, expect, it } from "vitest";
import { redact, redactString } from "./redact.ts";

describe("redact", () => {
  it("masks secret-named string fields deeply, keeps counts and other data", () => {
    const input = {
      a: { internalApiToken: "t-1234567", nested: [{ password: "p" }] },
      total_tokens: 5,
      name: "n",
    };
    expect(redact(input)).toEqual({
      a: { internalApiToken: "[redacted]", nested: [{ password: "[redacted]" }] },
      total_tokens: 5,
      name: "n",
    });
    expect(input.a.internalApiToken).toBe("t-1234567");
  });

  it("masks bearer tokens in text and survives cycles", () => {
    expect(redactString("Authorization: Bearer abc.def-123")).toBe("Authorization: Bearer [redacted]");
    const cyc: Record<string, unknown> = { x: 1 };
    cyc.self = cyc;
    expect(redact(cyc)).toEqual({ x: 1, self: "[cycle]" });
  });
});
