import { describe, expect, it } from "vitest";
import { capOutput } from "../serve/tool-policy.ts";
import { resolveClawmatrix } from "../status.ts";
import { cutEncoded, encodedLength, MAX_TOOL_OUTPUT_BYTES, splitEncoded } from "./sizes.ts";

// PROTOCOL §1 "Sizes": limits count the bytes that go on the wire (JSON-encoded).

const wire = (s: string) => Buffer.byteLength(JSON.stringify(s)) - 2;

describe("PROTOCOL §1 sizes", () => {
  it("counts encoded bytes exactly as JSON.stringify writes them", () => {
    for (const s of ["plain", "\u0001\u001f", '"\\', "\n\t\r\b\f", "é€😀", "\ud800x", "\u2028"])
      expect(encodedLength(s), JSON.stringify(s)).toBe(wire(s));
  });

  it("caps tool output in encoded bytes: 1 MiB of control characters stays 1 MiB on the wire", () => {
    const nasty = "\u0001".repeat(1024 * 1024);
    const r = capOutput(nasty, 1024 * 1024);
    expect(r.truncated).toBe(true);
    const [head] = r.output.split("\n[clawmatrix");
    expect(wire(head as string)).toBeLessThanOrEqual(1024 * 1024);
    expect(r.output).toMatch(/output truncated at 1048576 of 6291456 bytes\]$/);
  });

  it("splits and cuts on code points, every piece within the limit", () => {
    const text = `${"😀".repeat(10)}${"\u0001".repeat(10)}abc`;
    const pieces = splitEncoded(text, 7);
    expect(pieces.join("")).toBe(text);
    for (const p of pieces) expect(wire(p)).toBeLessThanOrEqual(7);
    expect(cutEncoded("😀😀", 5)).toEqual({ head: "😀", rest: "😀" });
    expect(splitEncoded("😀", 2)).toEqual(["😀"]); // a code point over the limit still moves on
    expect(splitEncoded("")).toEqual([""]);
  });

  it("refuses a maxOutputBytes above the frame limit, naming the value and the maximum", () => {
    const r = resolveClawmatrix({
      secret: "sizes-secret-0123456789",
      nodeId: "n",
      toolProxy: { maxOutputBytes: 64 * 1024 * 1024 },
    });
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.status.reason).toMatch(
      new RegExp(`maxOutputBytes: must be at most ${MAX_TOOL_OUTPUT_BYTES} .*\\(got 67108864\\)`),
    );
    expect(resolveClawmatrix({ secret: "sizes-secret-0123456789", nodeId: "n", toolProxy: {} }).ok).toBe(
      true,
    );
  });
});
