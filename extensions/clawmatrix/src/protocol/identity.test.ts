import { describe, expect, it } from "vitest";
import type { Frame } from "./frames.ts";
import { DialerHandshake, ListenerHandshake, NonceMemory } from "./handshake.ts";
import { auth, converse } from "./handshake-fixtures.ts";
import { NodeKey, verifySignature } from "./identity.ts";
import { KeyPins } from "./pins.ts";

// PROTOCOL §3b: node identity in the handshake, without sockets. The hostile side here is a member
// that has the mesh secret (so the HMAC proofs pass) but not the other node's private key.

describe("PROTOCOL §3b node keys", () => {
  it("signs and verifies, survives its stored form, and never throws on garbage", () => {
    const k = NodeKey.generate();
    expect(k.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const sig = k.sign("transcript");
    expect(verifySignature(k.publicKey, "transcript", sig)).toBe(true);
    expect(verifySignature(k.publicKey, "transcripT", sig)).toBe(false);
    expect(verifySignature(NodeKey.generate().publicKey, "transcript", sig)).toBe(false);
    const again = NodeKey.fromStored(k.toStored());
    expect(again.publicKey).toBe(k.publicKey);
    expect(verifySignature(k.publicKey, "x", again.sign("x"))).toBe(true);
    for (const [pub, s] of [
      ["", sig],
      ["A".repeat(43), sig],
      [k.publicKey, "not-a-signature"],
      [k.publicKey, "A".repeat(86)],
    ] as const)
      expect(verifySignature(pub, "transcript", s)).toBe(false);
    expect(() => NodeKey.fromStored({ ...k.toStored(), x: NodeKey.generate().publicKey })).toThrow(
      /does not match the private key/,
    );
  });
});

describe("PROTOCOL §3b identity in the handshake", () => {
  it("proves both keys, hands each side the other's, and pins them at first sight", () => {
    const c = auth("node-c");
    const a = auth("node-a");
    const r = converse(new DialerHandshake(c, "node-a"), new ListenerHandshake(a, new NonceMemory()));
    expect(r.listener).toMatchObject({ kind: "done", peer: "node-c", peerKey: c.key.publicKey });
    expect(r.dialer).toMatchObject({ kind: "done", peer: "node-a", peerKey: a.key.publicKey });
    expect(a.pins.pinned).toEqual({ "node-c": c.key.publicKey });
    expect(c.pins.pinned).toEqual({ "node-a": a.key.publicKey });
  });

  it("refuses a member posing as a pinned node with another key (listener side)", () => {
    const a = auth("node-a");
    const realB = auth("node-b");
    converse(new DialerHandshake(realB), new ListenerHandshake(a, new NonceMemory()));
    // Same secret, same claimed id, its own key: the pin catches it.
    const impostor = auth("node-b");
    const r = converse(new DialerHandshake(impostor), new ListenerHandshake(a, new NonceMemory()));
    expect(r.listener).toMatchObject({
      kind: "fail",
      code: "KEY_REFUSED",
      message: expect.stringMatching(/node-b presented key .* but .* is pinned for it \(key changed/),
    });
    expect(r.listener?.kind === "fail" && r.listener.send).toMatchObject({ t: "error", code: "KEY_REFUSED" });
    expect(a.pins.pinned["node-b"]).toBe(realB.key.publicKey);
    // The real node still gets in.
    const again = converse(new DialerHandshake(realB), new ListenerHandshake(a, new NonceMemory()));
    expect(again.listener).toMatchObject({ kind: "done", peer: "node-b" });
  });

  it("refuses a listener whose key changed (dialer side)", () => {
    const c = auth("node-c", { pins: new KeyPins({ pinned: { "node-a": NodeKey.generate().publicKey } }) });
    const r = converse(
      new DialerHandshake(c, "node-a"),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
    );
    expect(r.dialer).toMatchObject({ kind: "fail", code: "KEY_REFUSED", message: /key changed/ });
  });

  it("holds a trusted node to its configured keys and pins nothing for it", () => {
    const b1 = NodeKey.generate();
    const b2 = NodeKey.generate();
    const pins = new KeyPins({
      trusted: [
        { nodeId: "node-b", key: b1.publicKey },
        { nodeId: "node-b", key: b2.publicKey },
      ],
    });
    const a = auth("node-a", { pins });
    for (const key of [b1, b2])
      expect(
        converse(new DialerHandshake(auth("node-b", { key })), new ListenerHandshake(a, new NonceMemory()))
          .listener,
      ).toMatchObject({ kind: "done", peer: "node-b" });
    const other = converse(new DialerHandshake(auth("node-b")), new ListenerHandshake(a, new NonceMemory()));
    expect(other.listener).toMatchObject({
      kind: "fail",
      code: "KEY_REFUSED",
      message: /not among its 2 trusted key/,
    });
    expect(pins.pinned).toEqual({});
  });

  it("refuses a swapped key or a forged signature, either way round", () => {
    const swapKey = (f: Frame): Frame => (f.t === "hello" ? { ...f, key: NodeKey.generate().publicKey } : f);
    const r1 = converse(
      new DialerHandshake(auth("node-c")),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
      swapKey,
    );
    // The listener signed the swapped key into its transcript, so the dialer sees a wrong signature.
    expect(r1.dialer).toMatchObject({
      kind: "fail",
      code: "AUTH_FAILED",
      message: /node-a gave a wrong identity signature/,
    });
    const forge = (f: Frame): Frame => {
      if (f.t === "challenge") return { ...f, sig: NodeKey.generate().sign("x") };
      return f;
    };
    const r2 = converse(
      new DialerHandshake(auth("node-c")),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
      forge,
    );
    expect(r2.dialer).toMatchObject({
      kind: "fail",
      code: "AUTH_FAILED",
      message: /node-a gave a wrong identity signature/,
    });
    const forgeAuth = (f: Frame): Frame => (f.t === "auth" ? { ...f, sig: NodeKey.generate().sign("x") } : f);
    const r3 = converse(
      new DialerHandshake(auth("node-c")),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
      forgeAuth,
    );
    expect(r3.listener).toMatchObject({
      kind: "fail",
      code: "AUTH_FAILED",
      message: /node-c gave a wrong identity signature/,
    });
  });

  it("refuses a v3 hello or challenge without identity, and never pins before the secret is proven", () => {
    const a = auth("node-a");
    const noKey = (f: Frame): Frame =>
      f.t === "hello" ? { t: "hello", v: f.v, node: f.node, nonce: f.nonce } : f;
    expect(
      converse(new DialerHandshake(auth("node-c")), new ListenerHandshake(a, new NonceMemory()), noKey)
        .listener,
    ).toMatchObject({
      kind: "fail",
      message: /node-c sent no identity key/,
    });
    const noSig = (f: Frame): Frame => (f.t === "challenge" ? { ...f, sig: undefined } : f);
    expect(
      converse(
        new DialerHandshake(auth("node-c")),
        new ListenerHandshake(auth("node-a"), new NonceMemory()),
        noSig,
      ).dialer,
    ).toMatchObject({
      kind: "fail",
      message: /sent no identity key or signature/,
    });
    // A stranger (wrong secret) never reaches the pins.
    const stranger = converse(
      new DialerHandshake(auth("node-x", { secret: "wrong-secret-0123456789" })),
      new ListenerHandshake(a, new NonceMemory()),
    );
    expect(stranger.dialer).toMatchObject({ kind: "fail", message: /wrong proof/ });
    expect(a.pins.pinned).toEqual({});
  });

  it("caps the pins: past the capacity a new id is refused, known ones still pass", () => {
    const pins = new KeyPins({ capacity: 1 });
    const k = NodeKey.generate().publicKey;
    expect(pins.accept("node-b", k)).toEqual({ ok: true, pinned: true });
    expect(pins.accept("node-b", k)).toEqual({ ok: true, pinned: false });
    expect(pins.accept("node-z", k)).toMatchObject({ ok: false, reason: /1 keys are pinned already/ });
  });
});
