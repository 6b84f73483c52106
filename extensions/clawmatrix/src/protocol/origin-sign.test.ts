import { describe, expect, it } from "vitest";
import type { RoutedFrame } from "./frames.ts";
import { decodeFrame, encodeFrame } from "./frames.ts";
import { NodeKey } from "./identity.ts";
import { ORIGIN_SIG_BYTES, routedSignedBy, signRouted } from "./origin-sign.ts";

// PROTOCOL §6a: every routed frame is signed by its src; any change to what it says breaks it.

const key = NodeKey.generate();
const base = { id: "frame-0123456789", src: "node-b", dst: "node-c", ttl: 8 } as const;
const frames: RoutedFrame[] = [
  { ...base, t: "req", kind: "tool", body: { tool: "read", args: { path: "a" } } },
  { ...base, t: "cancel", re: "req-0123456789" },
  { ...base, t: "res", re: "req-0123456789", ok: true, body: { output: "x", truncated: false } },
  { ...base, t: "res", re: "req-0123456789", ok: false, error: { code: "UPSTREAM", message: "m" } },
  { ...base, t: "chunk", re: "req-0123456789", n: 3, data: "piece" },
  { ...base, t: "end", re: "req-0123456789", ok: false, error: { code: "CANCELLED", message: "c" } },
];

const tampered = (f: RoutedFrame): RoutedFrame[] => {
  const out: RoutedFrame[] = [
    { ...f, id: "other-0123456789" },
    { ...f, src: "node-x" },
    { ...f, dst: "node-x" },
  ];
  if ("re" in f) out.push({ ...f, re: "other-0123456789" } as RoutedFrame);
  if (f.t === "req") out.push({ ...f, kind: "send" }, { ...f, body: { tool: "read", args: { path: "b" } } });
  if (f.t === "res") out.push({ ...f, ok: !f.ok }, { ...f, body: "forged" });
  if (f.t === "res" && f.error) out.push({ ...f, error: { ...f.error, message: "forged" } });
  if (f.t === "chunk") out.push({ ...f, n: 4 }, { ...f, data: "forged" });
  if (f.t === "end") out.push({ ...f, ok: true }, { ...f, error: { code: "CANCELLED", message: "x" } });
  return out;
};

describe("routed frame signatures", () => {
  it("verify after a trip through the wire codec, with ttl lowered by relays", () => {
    for (const f of frames) {
      const signed = signRouted(key, f);
      const r = decodeFrame(encodeFrame({ ...signed, ttl: 3 }));
      if (!r.ok || !("src" in r.frame)) throw new Error(`${f.t} did not decode`);
      expect(routedSignedBy([key.publicKey], r.frame as RoutedFrame), f.t).toBe(true);
      // What the signature adds stays within the margin the size checks leave for it.
      expect(encodeFrame(signed).length - encodeFrame(f).length).toBeLessThanOrEqual(ORIGIN_SIG_BYTES);
    }
  });

  it("fail for any changed field, another key, or no signature", () => {
    for (const f of frames) {
      const signed = signRouted(key, f);
      for (const t of tampered(signed))
        expect(routedSignedBy([key.publicKey], t), JSON.stringify(t)).toBe(false);
      expect(routedSignedBy([NodeKey.generate().publicKey], signed)).toBe(false);
      expect(routedSignedBy([key.publicKey], f)).toBe(false);
      expect(routedSignedBy(undefined, signed)).toBe(false);
    }
  });
});
