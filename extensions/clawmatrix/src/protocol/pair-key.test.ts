import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DhKey, PairKeys, pairKeyBytes } from "./pair-key.ts";

// PROTOCOL §6a: the pair key of two nodes is derived by both, and by nobody else.

const mac = (k: import("node:crypto").KeyObject) => createHmac("sha256", k).update("m").digest("hex");

describe("pair keys", () => {
  it("are the same bytes at both ends, bound to both ids and both public keys", () => {
    const [b, c, x] = [DhKey.generate(), DhKey.generate(), DhKey.generate()];
    const bc = pairKeyBytes({ node: "node-b", dh: b }, { node: "node-c", dh: c.publicKey });
    const cb = pairKeyBytes({ node: "node-c", dh: c }, { node: "node-b", dh: b.publicKey });
    expect(bc.length).toBe(32);
    expect(bc.equals(cb)).toBe(true);
    // The same X25519 keys under other node ids, or a third key: another key.
    expect(pairKeyBytes({ node: "node-b", dh: b }, { node: "node-x", dh: c.publicKey }).equals(bc)).toBe(
      false,
    );
    expect(pairKeyBytes({ node: "node-x", dh: x }, { node: "node-c", dh: c.publicKey }).equals(bc)).toBe(
      false,
    );
  });

  it("refuse a malformed or low-order public key without throwing", () => {
    const keys = new PairKeys("node-b", DhKey.generate());
    expect(keys.keyFor("node-c", "A".repeat(43))).toBeUndefined(); // the zero point
    expect(keys.keyFor("node-c", "not a key")).toBeUndefined();
    expect(keys.keyFor("node-c", DhKey.generate().publicKey)).toBeDefined();
  });

  it("are cached per peer key, a new published key gives a new pair key, and the cache is bounded", () => {
    const b = DhKey.generate();
    const c1 = DhKey.generate();
    const c2 = DhKey.generate();
    const keys = new PairKeys("node-b", b, 4);
    const k1 = keys.keyFor("node-c", c1.publicKey);
    expect(keys.keyFor("node-c", c1.publicKey)).toBe(k1);
    const k2 = keys.keyFor("node-c", c2.publicKey);
    if (!k1 || !k2) throw new Error("no pair key");
    expect(mac(k2)).not.toBe(mac(k1));
    const atC2 = new PairKeys("node-c", c2).keyFor("node-b", b.publicKey);
    if (!atC2) throw new Error("no pair key");
    expect(mac(atC2)).toBe(mac(k2));
    for (let i = 0; i < 10; i++) keys.keyFor(`node-${i}`, DhKey.generate().publicKey);
    expect(keys.size).toBe(4);
  });

  it("round-trip through their stored form, and a mismatched pair is refused", () => {
    const k = DhKey.generate();
    const s = k.toStored();
    expect(DhKey.fromStored(s).publicKey).toBe(k.publicKey);
    expect(() => DhKey.fromStored({ ...s, x: DhKey.generate().publicKey })).toThrow(/does not match/);
  });
});
