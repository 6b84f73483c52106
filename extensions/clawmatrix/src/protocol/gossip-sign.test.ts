import { describe, expect, it } from "vitest";
import { GossipKeys, signGossip } from "./gossip-sign.ts";
import { NodeKey } from "./identity.ts";
import { EMPTY_STATE } from "./table.ts";

// PROTOCOL §5a, without sockets: who may sign gossip for an origin.

const state = { ...EMPTY_STATE, tags: ["x"] };

describe("PROTOCOL §5a gossip origin rule", () => {
  it("binds an origin to the first key that signs for it, until it leaves or expires", () => {
    const b = NodeKey.generate();
    const evil = NodeKey.generate();
    const keys = new GossipKeys(() => undefined);
    expect(keys.check("node-b", 1, state, false, signGossip(b, "node-b", 1, state, false))).toEqual({
      ok: true,
    });
    expect(keys.check("node-b", 2, state, true, signGossip(evil, "node-b", 2, state, true))).toMatchObject({
      ok: false,
      reason: /not the key it gossips with/,
    });
    keys.forget("node-b");
    expect(keys.check("node-b", 3, state, false, signGossip(evil, "node-b", 3, state, false)).ok).toBe(true);
  });

  it("refuses a signature moved to another state, seq, origin or leaving flag", () => {
    const b = NodeKey.generate();
    const proof = signGossip(b, "node-b", 5, state, false);
    for (const [origin, seq, s, leaving] of [
      ["node-b", 6, state, false],
      ["node-b", 5, EMPTY_STATE, false],
      ["node-b", 5, state, true],
      ["node-c", 5, state, false],
    ] as const)
      expect(new GossipKeys(() => undefined).check(origin, seq, s, leaving, proof)).toMatchObject({
        ok: false,
        reason: /wrong signature/,
      });
  });

  it("holds an origin to its pinned or trusted key whatever was learned, and caps learned keys", () => {
    const b = NodeKey.generate();
    const other = NodeKey.generate();
    const pinned = new GossipKeys((o) => (o === "node-b" ? [b.publicKey] : undefined));
    expect(
      pinned.check("node-b", 1, state, false, signGossip(other, "node-b", 1, state, false)),
    ).toMatchObject({
      ok: false,
      reason: /not its pinned key/,
    });
    expect(pinned.check("node-b", 1, state, false, signGossip(b, "node-b", 1, state, false)).ok).toBe(true);
    const capped = new GossipKeys(() => undefined, 1);
    expect(capped.check("n1", 1, state, false, signGossip(b, "n1", 1, state, false)).ok).toBe(true);
    expect(capped.check("n2", 1, state, false, signGossip(other, "n2", 1, state, false))).toMatchObject({
      ok: false,
      reason: /1 origin keys known already/,
    });
  });
});
