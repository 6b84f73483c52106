import { describe, expect, it } from "vitest";
import type { RoutedFrame } from "./frames.ts";
import { chunkOfBytes, decodeFrame, decodeFrameBytes, encodeFrame, encodeFrameBytes } from "./frames.ts";
import { NodeKey } from "./identity.ts";
import { macRouted, ORIGIN_SIG_BYTES, routedMacOk, routedSignedBy, signRouted } from "./origin-sign.ts";
import { DhKey, PairKeys } from "./pair-key.ts";

// PROTOCOL §6a: a relayed routed frame carries its src's proof (an HMAC under the pair key of
// src and dst, or an Ed25519 signature); any change to what it says breaks either.

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

describe("routed frame MACs under a pair key", () => {
  const [b, c, x] = [DhKey.generate(), DhKey.generate(), DhKey.generate()];
  const atB = new PairKeys("node-b", b);
  const atC = new PairKeys("node-c", c);
  const atX = new PairKeys("node-x", x);
  const bc = atB.keyFor("node-c", c.publicKey);
  const cb = atC.keyFor("node-b", b.publicKey);
  if (!bc || !cb) throw new Error("no pair key");

  it("made at src verify at dst after the wire codec, with ttl lowered by relays", () => {
    for (const f of frames) {
      const tagged = macRouted(bc, f);
      const r = decodeFrame(encodeFrame({ ...tagged, ttl: 3 }));
      if (!r.ok || !("src" in r.frame)) throw new Error(`${f.t} did not decode`);
      expect(routedMacOk(cb, r.frame as RoutedFrame), f.t).toBe(true);
      expect(encodeFrame(tagged).length - encodeFrame(f).length).toBeLessThanOrEqual(ORIGIN_SIG_BYTES);
    }
  });

  it("fail for any changed field, a third node's pair keys, or no MAC", () => {
    // node-x (say, the relay between b and c) has a key with each of them, not theirs.
    const xc = atX.keyFor("node-c", c.publicKey);
    const xb = atX.keyFor("node-b", b.publicKey);
    if (!xc || !xb) throw new Error("no pair key");
    for (const f of frames) {
      const tagged = macRouted(bc, f);
      for (const t of tampered(tagged)) expect(routedMacOk(cb, t), JSON.stringify(t)).toBe(false);
      expect(routedMacOk(xc, tagged)).toBe(false);
      expect(routedMacOk(cb, macRouted(xc, f))).toBe(false);
      expect(routedMacOk(cb, macRouted(xb, f))).toBe(false);
      expect(routedMacOk(cb, f)).toBe(false);
      expect(routedMacOk(cb, { ...tagged, mac: "A".repeat(43) })).toBe(false);
    }
  });

  it("tell an absent body from a null one and a chunk's text from its JSON", () => {
    const req = { ...base, t: "req", kind: "chat" } as const;
    expect(routedMacOk(cb, { ...macRouted(bc, { ...req, body: null }), body: undefined })).toBe(false);
    const chunk = { ...base, t: "chunk", re: "req-0123456789", n: 0, data: '"x"' } as const;
    expect(routedMacOk(cb, { ...macRouted(bc, chunk), data: "x" })).toBe(false);
  });

  it("cover a chunk's bytes as they go on the wire, without decoding them", () => {
    const head = { ...base, t: "chunk", re: "req-0123456789", n: 1 } as const;
    const text = "data: é€😀\n\n";
    // Made from bytes or from text, the same data has the same proof (older nodes sign the text).
    const fromBytes = macRouted(bc, chunkOfBytes(head, Buffer.from(text)));
    expect(fromBytes.mac).toBe(macRouted<RoutedFrame>(bc, { ...head, data: text }).mac);
    expect(signRouted(key, chunkOfBytes(head, Buffer.from(text))).sig).toBe(
      signRouted<RoutedFrame>(key, { ...head, data: text }).sig,
    );
    // The proof is added to a copy that keeps the bytes: a byte no text could hold survives it,
    // and the proof verifies at the other end over the bytes that came.
    const odd = Buffer.concat([Buffer.from("data: a"), Buffer.from([0x80]), Buffer.from("\n\n")]);
    const wire = encodeFrameBytes(macRouted(bc, chunkOfBytes(head, odd)));
    expect(wire.includes(odd)).toBe(true);
    const got = decodeFrameBytes(wire);
    if (!got.ok) throw new Error(got.reason);
    expect(routedMacOk(cb, got.frame as RoutedFrame)).toBe(true);
    expect(routedMacOk(cb, { ...(got.frame as RoutedFrame), data: "data: a\ufffd\n\n" } as RoutedFrame)).toBe(
      false,
    );
  });
});
