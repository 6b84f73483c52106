import { describe, expect, it } from "vitest";
import { encodeFrameBytes, type Frame, relayed } from "./frames.ts";
import { deriveKeys, FrameOpener, FrameSealer, type KeyInput, MAX_PLAINTEXT_BYTES } from "./session.ts";

// PROTOCOL §3a without sockets: sealed frames, one key per direction, strict sequence.

const input: KeyInput = {
  secret: "mesh-secret-0123456789abcdef",
  dialer: "node-c",
  listener: "node-a",
  dialerNonce: "d".repeat(43),
  listenerNonce: "l".repeat(43),
};
const ping = (ts: number): Frame => ({ t: "ping", ts });
const plain = (f: Frame) => encodeFrameBytes(f);

function pair() {
  const d = deriveKeys(input, "dialer");
  const l = deriveKeys(input, "listener");
  return {
    toListener: new FrameSealer(d.send),
    listenerOpens: new FrameOpener(l.receive),
    toDialer: new FrameSealer(l.send),
    dialerOpens: new FrameOpener(d.receive),
  };
}

describe("PROTOCOL §3a session keys and sealed frames", () => {
  it("round-trips frames in order in both directions, and the wire shows no plaintext", () => {
    const p = pair();
    const secretBody: Frame = {
      t: "req",
      id: "req-0123456789",
      src: "node-c",
      dst: "node-a",
      ttl: 8,
      kind: "tool",
      body: { tool: "exec", args: { command: "cat /etc/shadow" } },
    };
    const m = p.toListener.seal(plain(secretBody));
    expect(m.toString("latin1")).not.toContain("shadow");
    expect(p.listenerOpens.open(m)).toEqual({ ok: true, frame: secretBody });
    expect(p.listenerOpens.open(p.toListener.seal(plain(ping(2))))).toEqual({ ok: true, frame: ping(2) });
    expect(p.dialerOpens.open(p.toDialer.seal(plain(ping(3))))).toEqual({ ok: true, frame: ping(3) });
  });

  it("refuses a tampered frame (any bit of header, ciphertext or tag)", () => {
    for (const at of [0, 7, 8, 12, -1]) {
      const p = pair();
      const m = p.toListener.seal(plain(ping(1)));
      const i = at < 0 ? m.length + at : at;
      m[i] = (m[i] as number) ^ 1;
      expect(p.listenerOpens.open(m), `byte ${at}`).toMatchObject({ ok: false, fatal: true });
    }
  });

  it("refuses a replayed, a reordered and a dropped-before frame", () => {
    const p = pair();
    const m0 = p.toListener.seal(plain(ping(0)));
    p.toListener.seal(plain(ping(1)));
    const m2 = p.toListener.seal(plain(ping(2)));
    expect(p.listenerOpens.open(m0).ok).toBe(true);
    expect(p.listenerOpens.open(m0)).toMatchObject({ fatal: true, reason: /sequence 0, expected 1/ });
    const q = pair();
    q.toListener.seal(plain(ping(0)));
    expect(q.listenerOpens.open(q.toListener.seal(plain(ping(1))))).toMatchObject({
      fatal: true,
      reason: /sequence 1, expected 0 \(dropped, replayed or reordered\)/,
    });
    // m2 after m0 means m1 was dropped (or comes later): refused either way.
    expect(pair().listenerOpens.open(m2)).toMatchObject({ fatal: true });
  });

  it("refuses a frame reflected back to its sender, one from another session, and short junk", () => {
    const p = pair();
    const m = p.toListener.seal(plain(ping(1)));
    expect(p.dialerOpens.open(m)).toMatchObject({ ok: false, fatal: true, reason: /authentication/ });
    const other = deriveKeys({ ...input, listenerNonce: "x".repeat(43) }, "listener");
    expect(new FrameOpener(other.receive).open(m)).toMatchObject({ ok: false, fatal: true });
    expect(p.listenerOpens.open(Buffer.from("{}"))).toMatchObject({
      ok: false,
      fatal: true,
      reason: /short/,
    });
    // An injected frame with a plausible header but no key.
    const forged = Buffer.concat([Buffer.alloc(8), Buffer.from('{"t":"ping","ts":1}'), Buffer.alloc(16)]);
    expect(pair().listenerOpens.open(forged)).toMatchObject({ ok: false, fatal: true });
  });

  it("drops (without closing) an authentic frame that does not parse", () => {
    const p = pair();
    expect(p.listenerOpens.open(p.toListener.seal(Buffer.from('{"t":"bogus"}')))).toMatchObject({
      ok: false,
      fatal: false,
    });
    expect(p.listenerOpens.open(p.toListener.seal(plain(ping(4))))).toEqual({ ok: true, frame: ping(4) });
  });

  it("carries a chunk's data raw after its JSON, whatever the data holds, and nothing else that way", () => {
    const p = pair();
    const chunk = (data: string): Frame => ({
      t: "chunk",
      id: "chunk-0123456789",
      src: "node-b",
      dst: "node-a",
      ttl: 8,
      re: "req-0123456789",
      n: 3,
      data,
    });
    // Line feeds, quotes, JSON, control characters, emoji, an empty piece: back exactly as sent.
    const data = 'data: {"choices":[{"delta":{"content":"a\\"b\\n"}}]}\n\n\u0001\u00e9\u{1F600}[[[{';
    for (const d of [data, "", "\n", "x".repeat(100_000)]) {
      const m = plain(chunk(d));
      // Raw: the data's bytes follow the JSON's end, unescaped.
      expect(m.subarray(m.indexOf(0x0a) + 1).toString("utf8")).toBe(d);
      expect(p.listenerOpens.open(p.toListener.seal(m))).toEqual({ ok: true, frame: chunk(d) });
    }
    // Deep brackets in the data are text, not JSON: no nesting limit applies to them.
    const deep = "[".repeat(10_000);
    expect(p.listenerOpens.open(p.toListener.seal(plain(chunk(deep))))).toEqual({
      ok: true,
      frame: chunk(deep),
    });
    // A lone surrogate becomes U+FFFD, as in any UTF-8.
    expect(p.listenerOpens.open(p.toListener.seal(plain(chunk("a\ud800b"))))).toMatchObject({
      frame: { data: "a\ufffdb" },
    });
    // Only a chunk carries data after its JSON, and never in both places; each is dropped, not fatal.
    const head = (f: object) => Buffer.from(`${JSON.stringify(f)}\nsmuggled`);
    const { data: _d, ...chunkHead } = chunk("x") as Frame & { data: string };
    for (const [bad, reason] of [
      [
        head({ t: "req", id: "req-0123456789", src: "node-b", dst: "node-a", ttl: 8, kind: "chat" }),
        /only a chunk/,
      ],
      [head({ ...chunkHead, data: "x" }), /both in its JSON and after it/],
      [head({ ...chunkHead, n: -1 }), /bad "chunk" frame: n/],
      [Buffer.from("not json\nx"), /not JSON/],
    ] as const)
      expect(p.listenerOpens.open(p.toListener.seal(bad))).toMatchObject({ ok: false, fatal: false, reason });
    // The older form, data inside the JSON, still reads.
    const inJson = Buffer.from(JSON.stringify(chunk("old form")));
    expect(p.listenerOpens.open(p.toListener.seal(inJson))).toEqual({ ok: true, frame: chunk("old form") });
  });

  it("relays a chunk's data as the bytes it came as: only the ttl changes, nothing is decoded", () => {
    const p = pair();
    const head = {
      t: "chunk",
      id: "chunk-0123456789",
      src: "node-b",
      dst: "node-c",
      ttl: 8,
      re: "req-0123456789",
      n: 0,
    };
    // Bytes no encoder of text would write (a lone continuation byte, an overlong form): a relay
    // that decoded and re-encoded the data would turn them into U+FFFD.
    const raw = Buffer.from([0x61, 0x80, 0xc0, 0xaf, 0x0a, 0x7b, 0x62]);
    const came = Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), raw]);
    const opened = p.listenerOpens.open(p.toListener.seal(came));
    if (!opened.ok || opened.frame.t !== "chunk") throw new Error("the chunk did not open");
    const sent = encodeFrameBytes(relayed(opened.frame, 7));
    expect(sent.toString("utf8", 0, sent.indexOf(0x0a))).toBe(JSON.stringify({ ...head, ttl: 7 }));
    expect(sent.subarray(sent.indexOf(0x0a) + 1).equals(raw)).toBe(true);
    // Where the data is read (the destination), it is its text, invalid bytes as U+FFFD.
    expect(opened.frame.data).toBe(raw.toString("utf8"));
    expect(relayed(opened.frame, 7)).toEqual({ ...head, ttl: 7, data: raw.toString("utf8") });
    // A chunk made here (no bytes yet) and any other frame are copied with the lower ttl.
    const mine = { ...head, data: "text \u{1F600}" } as Frame & { t: "chunk" };
    expect(encodeFrameBytes(relayed(mine, 5))).toEqual(encodeFrameBytes({ ...mine, ttl: 5 }));
  });

  it("binds the keys to the secret, both ids, both nonces and the version", () => {
    const base = deriveKeys(input, "dialer").send;
    for (const k of ["secret", "dialer", "listener", "dialerNonce", "listenerNonce"] as const)
      expect(deriveKeys({ ...input, [k]: `${input[k]}X` }, "dialer").send.equals(base), k).toBe(false);
    expect(MAX_PLAINTEXT_BYTES).toBe(4 * 1024 * 1024 - 24);
  });
});
