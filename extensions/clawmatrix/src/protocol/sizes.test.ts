import { describe, expect, it } from "vitest";
import { capOutput } from "../serve/tool-policy.ts";
import { resolveClawmatrix } from "../status.ts";
import { decodeFrame, decodeFrameBytes, MAX_DEPTH, nestedDeeperThan } from "./frames.ts";
import {
  cutEncoded,
  encodeChecked,
  encodedLength,
  MAX_TOOL_OUTPUT_BYTES,
  splitUtf8,
  utf8Bytes,
} from "./sizes.ts";

// PROTOCOL §1 "Sizes": limits count the bytes that go on the wire (JSON-encoded).

const wire = (s: string) => Buffer.byteLength(JSON.stringify(s)) - 2;

describe("PROTOCOL §1 sizes", () => {
  it("counts encoded bytes exactly as JSON.stringify writes them, as the cutter counts them", () => {
    const cases: Array<[string, number]> = [
      ["plain", 5],
      ["\u0001\u001f", 12],
      ['"\\', 4],
      ["\n\t\r\b\f", 10],
      ["é€😀", 9],
      ["\ud800x", 7],
      ["\u2028", 3],
    ];
    for (const [s, n] of cases) {
      expect(encodedLength(s), JSON.stringify(s)).toBe(n);
      expect(wire(s)).toBe(n);
      // cutEncoded counts code point by code point: it agrees on where the text ends.
      expect(cutEncoded(s, n).rest).toBe("");
      expect(cutEncoded(s, n - 1).rest).not.toBe("");
    }
  });

  it("passes streamed bytes through when they fit and are UTF-8; mends what is not UTF-8", () => {
    const bytes = Buffer.from("data: é€😀\n\n");
    expect(splitUtf8(bytes, bytes.length)[0]).toBe(bytes); // the same buffer: no copy
    expect(utf8Bytes(bytes)).toBe(bytes);
    expect(utf8Bytes(new Uint8Array([0x61, 0xe2, 0x82]))).toEqual(Buffer.from("a\ufffd"));
    expect(utf8Bytes(new Uint8Array([0xc0, 0xaf]))).toEqual(Buffer.from("\ufffd\ufffd")); // overlong
    expect(utf8Bytes("\ud800x")).toEqual(Buffer.from("\ufffdx")); // a lone surrogate
  });

  it("caps tool output in encoded bytes: 1 MiB of control characters stays 1 MiB on the wire", () => {
    const nasty = "\u0001".repeat(1024 * 1024);
    const r = capOutput(nasty, 1024 * 1024);
    expect(r.truncated).toBe(true);
    const [head] = r.output.split("\n[clawmatrix");
    expect(wire(head as string)).toBeLessThanOrEqual(1024 * 1024);
    expect(r.output).toMatch(/output truncated at 1048576 of 6291456 bytes\]$/);
  });

  it("splits streamed bytes before a character's first byte, every piece within the limit", () => {
    const text = `${"😀".repeat(10)}${"€é".repeat(10)}abc`;
    const bytes = Buffer.from(text);
    for (let max = 4; max <= 12; max++) {
      const pieces = splitUtf8(bytes, max);
      expect(Buffer.concat(pieces).equals(bytes)).toBe(true);
      for (const p of pieces) {
        expect(p.length).toBeLessThanOrEqual(max);
        expect(Buffer.from(p.toString()).equals(p), `max ${max}: ${p.toString()}`).toBe(true);
      }
    }
    // Under 4 bytes a character cannot fit: pieces still hold a byte each and the loop ends.
    expect(splitUtf8(Buffer.from("😀"), 1).length).toBe(4);
    expect(cutEncoded("😀😀", 5)).toEqual({ head: "😀", rest: "😀" });
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

describe("PROTOCOL §2 nesting", () => {
  it("counts arrays and objects inside one another, not brackets inside strings", () => {
    const nest = (n: number) => `${"[".repeat(n)}1${"]".repeat(n)}`;
    expect(nestedDeeperThan(nest(MAX_DEPTH), MAX_DEPTH)).toBe(false);
    expect(nestedDeeperThan(nest(MAX_DEPTH + 1), MAX_DEPTH)).toBe(true);
    expect(nestedDeeperThan(JSON.stringify({ s: "[".repeat(500), t: '\\"[[[' }), 2)).toBe(false);
    expect(nestedDeeperThan(`{"a":{"b":[{"c":"]]]]"}]}}`, 3)).toBe(true);
    // An escaped backslash ends before the quote, which closes the string; an escaped quote does not.
    expect(nestedDeeperThan(String.raw`["a\\",[[1]]]`, 2)).toBe(true);
    expect(nestedDeeperThan(String.raw`["a\\\"[[[",1]`, 2)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify(["\\", '\\"', "[[[", { x: "\\\\" }]), 2)).toBe(false);
    expect(decodeFrame(`{"t":"ping","ts":1,"x":${nest(MAX_DEPTH + 1)}}`)).toMatchObject({
      ok: false,
      reason: `frame nested deeper than ${MAX_DEPTH} arrays or objects`,
    });
  });

  it("encodes what can be sent once, and names what cannot: too deep, too large, or not encodable", () => {
    const req = (body: unknown) =>
      ({ t: "req", id: "frame-id-0001", src: "a", dst: "b", ttl: 8, kind: "chat", body }) as const;
    const ok = encodeChecked(req({ ok: 1, text: "é \u0001" }), "a chat request");
    // The bytes route() sends are the frame's plaintext: they decode to the same frame.
    if (!ok.ok) throw new Error(ok.why);
    expect(decodeFrameBytes(ok.plain)).toEqual({ ok: true, frame: req({ ok: 1, text: "é \u0001" }) });
    const why = (body: unknown) => {
      const r = encodeChecked(req(body), "a chat request");
      return r.ok ? undefined : r.why;
    };
    expect(why(JSON.parse(nestText(MAX_DEPTH)))).toMatch(/^a chat request is nested deeper than 64/);
    expect(why("x".repeat(5 * 1024 * 1024))).toMatch(/^a chat request of \d+ bytes is over the frame limit/);
    expect(why(JSON.parse(nestText(1_000_000)))).toMatch(/^a chat request cannot be encoded/);
  });
});

const nestText = (n: number) => `${"[".repeat(n)}1${"]".repeat(n)}`;
