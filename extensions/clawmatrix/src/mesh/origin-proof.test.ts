import { afterEach, describe, expect, it } from "vitest";
import type { RoutedFrame } from "../protocol/frames.ts";
import { signGossip } from "../protocol/gossip-sign.ts";
import { NodeKey } from "../protocol/identity.ts";
import { macRouted } from "../protocol/origin-sign.ts";
import { DhKey, PairKeys } from "../protocol/pair-key.ts";
import type { Handler } from "./requests.ts";
import { meshFixture, until } from "./test-fixture.ts";

// PROTOCOL §6a over real links: relayed frames carry an HMAC under the pair key of src and dst
// (X25519 keys published in signed gossip), which the relay between them cannot make.

const echo: Handler = async (body, ctx) => ({ echoed: body, by: ctx.src });
const mesh = meshFixture({ handlers: { chat: echo } });
afterEach(mesh.reset);

/** node-b and node-c linked only through node-a, whose X25519 key the test holds. */
async function line(opts: { cKey?: NodeKey; cDh?: DhKey } = {}) {
  const aDh = DhKey.generate();
  const a = await mesh.node("node-a", { listen: { host: "127.0.0.1", port: 0 }, dhKey: aDh });
  const url = `ws://127.0.0.1:${a.listenPort}`;
  const b = await mesh.node("node-b", { peers: [{ nodeId: "node-a", url }] });
  const c = await mesh.node("node-c", {
    peers: [{ nodeId: "node-a", url }],
    ...(opts.cKey ? { key: opts.cKey } : {}),
    ...(opts.cDh ? { dhKey: opts.cDh } : {}),
  });
  await until(() => c.table.route("node-b") !== undefined && b.table.route("node-c") !== undefined);
  /** What node-a relays, as it left node-a; `alter` lets node-a (a hostile relay) change it. */
  const relayed: RoutedFrame[] = [];
  let alter = (f: RoutedFrame) => f;
  const route = a.route.bind(a);
  a.route = (f) => {
    if (f.src !== "node-a") relayed.push(f);
    return route(f.src !== "node-a" ? alter(f) : f);
  };
  const setAlter = (fn: (f: RoutedFrame) => RoutedFrame) => {
    alter = fn;
  };
  /** node-a's own pair key with `peer` (it holds one with every node, just not theirs). */
  const aKeyWith = (peer: string) => {
    const dh = a.table.stateOf(peer)?.dh;
    const key = dh ? new PairKeys("node-a", aDh).keyFor(peer, dh) : undefined;
    if (!key) throw new Error(`no pair key with ${peer}`);
    return key;
  };
  return { a, b, c, url, aDh, relayed, setAlter, aKeyWith };
}

describe("origin proof of relayed frames (PROTOCOL §6a)", () => {
  it("relayed requests and answers carry a MAC, not a signature, and are served", async () => {
    const { b, c, relayed } = await line();
    expect(await c.requests.call(["node-b"], "chat", { q: 1 })).toEqual({
      node: "node-b",
      body: { echoed: { q: 1 }, by: "node-c" },
    });
    const req = relayed.find((f) => f.t === "req");
    const res = relayed.find((f) => f.t === "res");
    expect(req).toMatchObject({ src: "node-c", dst: "node-b", mac: expect.any(String) });
    expect(res).toMatchObject({ src: "node-b", dst: "node-c", mac: expect.any(String) });
    expect(req?.sig ?? res?.sig).toBeUndefined();
    expect(b.counters.forgedOrigin + c.counters.forgedOrigin).toBe(0);
  });

  it("a relay that alters a relayed request or answer is refused at its dst", async () => {
    const { b, c, setAlter } = await line();
    setAlter((f) => (f.t === "req" ? { ...f, body: { q: "altered" } } : f));
    await expect(c.requests.send("node-b", "chat", { q: 1 }, { timeoutMs: 400 })).rejects.toMatchObject({
      code: "MESH_ERR_TIMEOUT",
    });
    expect(b.counters.forgedOrigin).toBeGreaterThanOrEqual(1);
    expect(b.counters.served).toBe(0);
    // The answer altered on its way back: node-c refuses it, the request times out.
    setAlter((f) => (f.t === "res" ? { ...f, body: { echoed: "forged", by: "node-c" } } : f));
    await expect(c.requests.send("node-b", "chat", { q: 2 }, { timeoutMs: 400 })).rejects.toMatchObject({
      code: "MESH_ERR_TIMEOUT",
    });
    expect(b.counters.served).toBe(1);
    expect(c.counters.forgedOrigin).toBeGreaterThanOrEqual(1);
    // Once the relay stops meddling, the same path works again.
    setAlter((f) => f);
    expect((await c.requests.call(["node-b"], "chat", 3)).node).toBe("node-b");
  });

  it("a relay cannot forge a frame in another node's name with its own pair keys", async () => {
    const { a, b, c, aKeyWith } = await line();
    const toB = a.links.get("node-b");
    const toC = a.links.get("node-c");
    if (!toB || !toC) throw new Error("setup");
    // A request "from node-c", tagged with node-a's key with node-b.
    toB.send(
      macRouted(aKeyWith("node-b"), {
        t: "req",
        id: "forged-req-0123456789",
        src: "node-c",
        dst: "node-b",
        ttl: 7,
        kind: "chat",
        body: "as node-c",
      }),
    );
    await until(() => b.counters.forgedOrigin >= 1);
    expect(b.counters.served).toBe(0);
    // An answer "from node-b" to a request node-c has pending, tagged with node-a's key with node-c.
    let release: (() => void) | undefined;
    const b2 = await mesh.node("node-b2", {
      peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.listenPort}` }],
      handlers: { chat: () => new Promise((r) => (release = () => r({ real: true }))) },
    });
    await until(() => c.table.route("node-b2") !== undefined && b2.table.route("node-c") !== undefined);
    const sent: string[] = [];
    const route = c.route.bind(c);
    c.route = (f) => {
      if (f.t === "req") sent.push(f.id);
      return route(f);
    };
    const answer = c.requests.send("node-b2", "chat", "q");
    await until(() => release !== undefined && sent.length === 1);
    toC.send(
      macRouted(aKeyWith("node-c"), {
        t: "res",
        id: "forged-res-0123456789",
        src: "node-b2",
        dst: "node-c",
        ttl: 7,
        re: sent[0] as string,
        ok: true,
        body: { forged: true },
      }),
    );
    await until(() => c.counters.forgedOrigin >= 1);
    release?.();
    expect(await answer).toEqual({ real: true });
  });

  it("a MAC from a node whose signed state has no X25519 key is refused at once, not held", async () => {
    const { a, b } = await line();
    const toB = a.links.get("node-b");
    if (!toB) throw new Error("setup");
    const q = NodeKey.generate();
    const state = { agents: [], models: [], tags: [], links: [{ node: "node-a", rtt: 1 }], toolProxy: false };
    const seq = Date.now();
    const proof = signGossip(q, "node-q", seq, state, false);
    toB.send({ t: "gossip", id: "q-gossip-0123456789", origin: "node-q", seq, ttl: 7, state, ...proof });
    await until(() => b.table.stateOf("node-q") !== undefined);
    toB.send({
      t: "req",
      id: "q-req-0123456789",
      src: "node-q",
      dst: "node-b",
      ttl: 7,
      kind: "chat",
      body: 1,
      mac: "A".repeat(43),
    });
    await until(() => b.counters.forgedOrigin === 1);
    expect(b.counters.heldForKey).toBe(0);
    expect(b.counters.served).toBe(0);
  });

  it("the X25519 key rides in signed gossip: a member cannot swap it, a restart replaces it", async () => {
    const cKey = NodeKey.generate();
    const first = DhKey.generate();
    const { a, b, c, url, aDh } = await line({ cKey, cDh: first });
    expect(b.table.stateOf("node-c")?.dh).toBe(first.publicKey);
    const toB = a.links.get("node-b");
    const known = a.table.known("node-c");
    if (!toB || !known?.proof) throw new Error("setup");
    // node-a offers node-b node-c's state with node-a's X25519 key in it: signed by another
    // identity key, or under node-c's signature of the real state, it is refused.
    const swapped = { ...known.state, dh: aDh.publicKey };
    const seq = known.seq + 1;
    const gossip = { t: "gossip", origin: "node-c", seq, ttl: 7, state: swapped } as const;
    toB.send({
      ...gossip,
      id: "swap-own-key-0123456",
      ...signGossip(NodeKey.generate(), "node-c", seq, swapped, false),
    });
    toB.send({ ...gossip, id: "swap-c-proof-0123456", ...known.proof });
    await until(() => b.counters.gossipForged >= 2);
    expect(b.table.stateOf("node-c")?.dh).toBe(first.publicKey);
    // node-c restarts with the same identity and a new X25519 key: its signed gossip carries it.
    await c.stop();
    const second = DhKey.generate();
    const c2 = await mesh.node("node-c", { peers: [{ nodeId: "node-a", url }], key: cKey, dhKey: second });
    await until(
      () => b.table.stateOf("node-c")?.dh === second.publicKey && c2.table.route("node-b") !== undefined,
    );
    expect(await c2.requests.call(["node-b"], "chat", 1)).toMatchObject({ node: "node-b" });
    expect(b.counters.forgedOrigin + c2.counters.forgedOrigin).toBe(0);
  });
});
