import { describe, expect, it } from "vitest";
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  MAX_FRAME_BYTES,
  type NodeState,
  PROTOCOL_VERSION,
} from "./frames.ts";
import { DialerHandshake, ListenerHandshake, NonceMemory } from "./handshake.ts";
import { auth, converse, SECRET } from "./handshake-fixtures.ts";
import { EMPTY_STATE, MeshTable } from "./table.ts";

const SIG = "s".repeat(86);
const KEY = "k".repeat(43);

describe("PROTOCOL §2 frames", () => {
  it("round-trips every frame type it encodes", () => {
    const f: Frame = {
      t: "req",
      id: "req-0123456789",
      src: "a",
      dst: "b",
      ttl: 8,
      kind: "chat",
      body: { x: 1 },
    };
    expect(decodeFrame(encodeFrame(f))).toEqual({ ok: true, frame: f });
  });

  it("drops malformed, unknown, binary and oversized input with a reason, never throwing", () => {
    const cases: Array<[string | Buffer, boolean, RegExp]> = [
      ["not json", false, /not JSON/],
      ['{"t":"bogus"}', false, /bad "bogus" frame/],
      ['{"no":"type"}', false, /untyped/],
      ['{"t":"ping"}', false, /bad "ping" frame: ts/],
      ['{"t":"req","id":"x","src":"a","dst":"b","ttl":99,"kind":"echo"}', false, /bad "req"/],
      ['{"t":"hello","v":1,"node":"../etc","nonce":"0123456789abcdef0"}', false, /node/],
      ['{"t":"hello","v":2,"node":"x","nonce":"0123456789|abcdef0"}', false, /nonce/],
      [Buffer.from([0, 1, 2]), true, /binary/],
      ["x".repeat(MAX_FRAME_BYTES + 1), false, /over the limit/],
      ["null", false, /untyped/],
    ];
    for (const [data, binary, reason] of cases) {
      const r = decodeFrame(data, binary);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(reason);
    }
  });
});

describe("PROTOCOL §3-4 handshake", () => {
  it("authenticates both sides with the right secret and names the peer", () => {
    const r = converse(
      new DialerHandshake(auth("node-c"), "node-a"),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
    );
    expect(r.listener).toMatchObject({ kind: "done", peer: "node-c" });
    expect(r.dialer).toMatchObject({ kind: "done", peer: "node-a" });
    // PROTOCOL §3a: both ends derive the same pair of keys, crossed, and the two directions differ.
    if (r.dialer?.kind !== "done" || r.listener?.kind !== "done") throw new Error("not done");
    expect(r.dialer.keys.send.equals(r.listener.keys.receive)).toBe(true);
    expect(r.dialer.keys.receive.equals(r.listener.keys.send)).toBe(true);
    expect(r.dialer.keys.send.equals(r.dialer.keys.receive)).toBe(false);
    expect(r.dialer.keys.send).toHaveLength(32);
  });

  it("refuses a wrong secret on either side, without the secret in the message", () => {
    const a = converse(
      new DialerHandshake(auth("node-c", { secret: "other-secret-0123456789" })),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
    );
    expect(a.dialer).toMatchObject({ kind: "fail", code: "AUTH_FAILED" });
    expect(JSON.stringify(a)).not.toContain(SECRET);
    // A dialer that somehow passes the listener's proof still fails at auth.
    const l = new ListenerHandshake(auth("node-a"), new NonceMemory());
    const challenge = l.onFrame({
      t: "hello",
      v: PROTOCOL_VERSION,
      node: "node-x",
      nonce: "n".repeat(40),
      key: KEY,
    });
    expect(challenge.kind).toBe("send");
    const bad = l.onFrame({ t: "auth", proof: "p".repeat(43), sig: SIG });
    expect(bad).toMatchObject({
      kind: "fail",
      code: "AUTH_FAILED",
      message: expect.stringMatching(/node-x gave a wrong proof/),
    });
  });

  it("refuses a replayed hello nonce and frames out of order", () => {
    const memory = new NonceMemory();
    const hello: Frame = { t: "hello", v: PROTOCOL_VERSION, node: "node-c", nonce: "r".repeat(43), key: KEY };
    expect(new ListenerHandshake(auth("node-a"), memory).onFrame(hello).kind).toBe("send");
    expect(new ListenerHandshake(auth("node-a"), memory).onFrame(hello)).toMatchObject({
      kind: "fail",
      message: /replayed/,
    });
    expect(new ListenerHandshake(auth("node-a"), memory).onFrame({ t: "ping", ts: 1 })).toMatchObject({
      kind: "fail",
      message: /unexpected "ping"/,
    });
  });

  it("refuses a version mismatch naming both versions", () => {
    const l = new ListenerHandshake(auth("node-a"), new NonceMemory());
    const r = l.onFrame({ t: "hello", v: 6, node: "node-c", nonce: "v".repeat(43), key: KEY });
    expect(r).toMatchObject({
      kind: "fail",
      code: "VERSION_MISMATCH",
      message: "peer speaks v6, this node speaks v5",
    });
    // v4 carried chunk data inside the JSON: it could not read a v5 chunk.
    const v4 = new ListenerHandshake(auth("node-a"), new NonceMemory());
    expect(v4.onFrame({ t: "hello", v: 4, node: "node-c", nonce: "u".repeat(43), key: KEY })).toMatchObject({
      kind: "fail",
      code: "VERSION_MISMATCH",
      message: expect.stringMatching(
        /^peer speaks v4, this node speaks v5 \(clawmatrix\/4 carries a chunk's data/,
      ),
    });
    // v3 proved relayed frames by Ed25519 only: a v5 node's MACs would be refused there.
    const v3 = new ListenerHandshake(auth("node-a"), new NonceMemory());
    expect(v3.onFrame({ t: "hello", v: 3, node: "node-c", nonce: "t".repeat(43), key: KEY })).toMatchObject({
      kind: "fail",
      code: "VERSION_MISMATCH",
      message: expect.stringMatching(/^peer speaks v3, this node speaks v5 \(clawmatrix\/3 proves relayed/),
    });
    // v1 (frames in clear) is refused by name, so the operator knows which node to upgrade.
    const old = new ListenerHandshake(auth("node-a"), new NonceMemory());
    expect(old.onFrame({ t: "hello", v: 1, node: "node-c", nonce: "o".repeat(43) })).toMatchObject({
      kind: "fail",
      code: "VERSION_MISMATCH",
      message: expect.stringMatching(
        /^peer speaks v1, this node speaks v5 \(clawmatrix\/1 sends frames in clear/,
      ),
    });
    // v2 had no identity: its hello (no key) parses and is refused by name, not as a bad frame.
    const v2 = decodeFrame('{"t":"hello","v":2,"node":"node-c","nonce":"wwwwwwwwwwwwwwwwwwwwwwwww"}');
    if (!v2.ok) throw new Error(v2.reason);
    expect(new ListenerHandshake(auth("node-a"), new NonceMemory()).onFrame(v2.frame)).toMatchObject({
      kind: "fail",
      code: "VERSION_MISMATCH",
      message: expect.stringMatching(
        /^peer speaks v2, this node speaks v5 \(clawmatrix\/2 does not prove node identity/,
      ),
    });
  });

  it("refuses a listener that is not the configured node", () => {
    const r = converse(
      new DialerHandshake(auth("node-c"), "node-b"),
      new ListenerHandshake(auth("node-a"), new NonceMemory()),
    );
    expect(r.dialer).toMatchObject({ kind: "fail", message: /expected node node-b/ });
  });
});

const state = (links: string[], extra: Partial<NodeState> = {}): NodeState => ({
  ...EMPTY_STATE,
  links: links.map((node) => ({ node, rtt: 1 })),
  ...extra,
});

describe("PROTOCOL §5-6 table and routing", () => {
  it("routes node-c to node-b through node-a, and finds agents by id and tag", () => {
    const c = new MeshTable("node-c");
    c.setOwn(state(["node-a"]));
    c.apply("node-a", 1, state(["node-b", "node-c"], { agents: [{ id: "reviewer", tags: ["review"] }] }));
    c.apply(
      "node-b",
      1,
      state(["node-a"], { agents: [{ id: "coder", tags: ["coding"] }], models: [{ id: "m" }] }),
    );
    expect(c.route("node-b")).toMatchObject({ hops: 2, via: "node-a" });
    expect(c.candidates("tags:coding")).toEqual(["node-b"]);
    expect(c.candidates("reviewer")).toEqual(["node-a"]);
    expect(c.candidates("node-b")).toEqual(["node-b"]);
    expect(c.modelCandidates("m")).toEqual(["node-b"]);
    expect(c.candidates("nobody")).toEqual([]);
  });

  it("prefers direct over relayed, then lower rtt, and forgets a link only one side reports", () => {
    const t = new MeshTable("x");
    t.setOwn({
      ...EMPTY_STATE,
      links: [
        { node: "a", rtt: 50 },
        { node: "b", rtt: 5 },
      ],
    });
    const tagged = { tags: ["t"] };
    t.apply("a", 1, state(["x", "c"], tagged));
    t.apply("b", 1, state(["x"], tagged));
    t.apply("c", 1, state(["a"], tagged));
    expect(t.candidates("tags:t")).toEqual(["b", "a", "c"]);
    // a stops reporting c (c died): c is unreachable although c's stale state still lists a.
    t.apply("a", 2, state(["x"], tagged));
    expect(t.route("c")).toBeUndefined();
    expect(t.candidates("tags:t")).toEqual(["b", "a"]);
  });

  it("ignores old gossip, removes a leaving node, and expires silent ones", () => {
    let now = 1_000;
    const t = new MeshTable("x", () => now);
    t.setOwn(state(["a", "b"]));
    expect(t.apply("a", 5, state(["x"]))).toBe(true);
    expect(t.apply("a", 5, state(["x"]))).toBe(false);
    expect(t.apply("a", 4, state([]))).toBe(false);
    t.apply("b", 1, state(["x"]));
    expect(t.apply("b", 2, state([]), true)).toBe(true);
    expect(t.known("b")).toBeUndefined();
    expect(t.apply("b", 1, state(["x"]))).toBe(false); // a delayed old gossip cannot resurrect it
    now += 61_000;
    expect(t.expire()).toEqual(["a"]);
  });

  it("converges over an in-process network of 100 nodes and propagates a failure", () => {
    const N = 100;
    const ids = Array.from({ length: N }, (_, i) => `n${i}`);
    // A ring plus chords: every node has 3-4 links, the diameter is well over one hop.
    const links = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
    const link = (a: string, b: string) => {
      links.get(a)?.add(b);
      links.get(b)?.add(a);
    };
    ids.forEach((id, i) => {
      link(id, ids[(i + 1) % N] as string);
      if (i % 7 === 0) link(id, ids[(i * 13 + 5) % N] as string);
    });
    const tables = new Map(ids.map((id) => [id, new MeshTable(id)]));
    let messages = 0;
    // Flooding as PROTOCOL §5: a node forwards news to every other link.
    const flood = (from: string, origin: string, seq: number, st: NodeState) => {
      const queue: Array<[string, string]> = [...(links.get(from) ?? [])].map((to) => [from, to]);
      while (queue.length) {
        const [via, to] = queue.shift() as [string, string];
        messages++;
        if (!tables.get(to)?.apply(origin, seq, st)) continue;
        for (const next of links.get(to) ?? []) if (next !== via) queue.push([to, next]);
      }
    };
    const announce = (id: string) => {
      const st = state([...(links.get(id) ?? [])], { tags: [`t-${id}`] });
      const seq = tables.get(id)?.setOwn(st) as number;
      flood(id, id, seq, st);
    };
    ids.forEach(announce);
    for (const t of tables.values()) expect(t.routes().size).toBe(N);
    expect(tables.get("n0")?.candidates("tags:t-n50")).toEqual(["n50"]);
    expect(messages).toBeLessThan(N * N * 5);

    // n50 dies: its neighbours drop the link and gossip; nobody routes to it any more.
    const neighbours = [...(links.get("n50") ?? [])];
    for (const nb of neighbours) links.get(nb)?.delete("n50");
    for (const id of neighbours) announce(id);
    for (const id of ids.filter((x) => x !== "n50")) expect(tables.get(id)?.route("n50"), id).toBeUndefined();
    expect(tables.get("n0")?.routes().size).toBe(N - 1);
  });
});
