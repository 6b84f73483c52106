import { describe, expect, it } from "vitest";
import { a2aPeers, ConcurrencyLimit, peerFor, RateLimiter } from "./peers.ts";

const TOKEN_A = "peer-a-token-0123456789abcdef";
const TOKEN_B = "peer-b-token-0123456789abcdef";

describe("A2A peers", () => {
  const host = {
    channels: {
      a2a: {
        peers: {
          a: { token: "${A2A_PEER_A_TOKEN}" },
          b: { token: TOKEN_B },
          unset: { token: "${A2A_PEER_UNSET_TOKEN}" },
          short: { token: "short" },
        },
      },
    },
  };

  it("takes the host channel's peers, resolving ${VAR} tokens and skipping unusable ones", () => {
    const peers = a2aPeers(host, { A2A_PEER_A_TOKEN: TOKEN_A });
    expect(peers.map((p) => p.name)).toEqual(["a", "b"]);
    expect(a2aPeers({}, {})).toEqual([]);
  });

  it("finds the peer by its bearer token and nothing else", () => {
    const peers = a2aPeers(host, { A2A_PEER_A_TOKEN: TOKEN_A });
    expect(peerFor(`Bearer ${TOKEN_A}`, peers)).toBe("a");
    expect(peerFor(`Bearer ${TOKEN_B}`, peers)).toBe("b");
    for (const bad of [
      undefined,
      "",
      TOKEN_A,
      `Basic ${TOKEN_A}`,
      `Bearer ${TOKEN_A}x`,
      `Bearer ${TOKEN_A.slice(1)}`,
      "Bearer ${A2A_PEER_UNSET_TOKEN}",
    ])
      expect(peerFor(bad, peers), String(bad)).toBeUndefined();
  });
});

describe("RateLimiter", () => {
  it("allows perMinute requests per peer in any sliding minute", () => {
    let now = 0;
    const r = new RateLimiter(2, () => now);
    expect([r.take("a"), r.take("a"), r.take("a"), r.take("b")]).toEqual([true, true, false, true]);
    now = 59_999;
    expect(r.take("a")).toBe(false);
    now = 60_000;
    expect(r.take("a")).toBe(true);
    expect(new RateLimiter(0).take("a")).toBe(true);
  });
});

describe("ConcurrencyLimit", () => {
  it("counts per peer, and a release counts once", () => {
    const c = new ConcurrencyLimit(1);
    const release = c.acquire("a");
    expect(release).toBeDefined();
    expect(c.acquire("a")).toBeUndefined();
    expect(c.acquire("b")).toBeDefined();
    release?.();
    release?.();
    expect(c.running("a")).toBe(0);
    expect(c.acquire("a")).toBeDefined();
  });
});
