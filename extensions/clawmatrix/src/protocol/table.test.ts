import { describe, expect, it } from "vitest";
import type { NodeState } from "./frames.ts";
import { EMPTY_STATE, MAX_NODES, MAX_STATE_BYTES, MAX_TABLE_BYTES, MeshTable } from "./table.ts";

// PROTOCOL §5 bounds: what gossip from a buggy or hostile member can make a node hold.

const state = (links: string[], extra: Partial<NodeState> = {}): NodeState => ({
  ...EMPTY_STATE,
  links: links.map((node) => ({ node, rtt: 1 })),
  ...extra,
});
/** A state of about `bytes` bytes of JSON. */
const sized = (bytes: number): NodeState =>
  state([], {
    agents: Array.from({ length: Math.ceil(bytes / 2000) }, (_, i) => ({
      id: `a${i}`,
      description: "d".repeat(1950),
      tags: [],
    })),
  });

describe("PROTOCOL §5 gossip bounds", () => {
  it(`holds at most ${MAX_NODES} nodes; known ones still update`, () => {
    const t = new MeshTable("x");
    for (let i = 0; i < MAX_NODES; i++) expect(t.apply(`n${i}`, 1, state([]))).toBe(true);
    expect(t.apply("one-too-many", 1, state([]))).toBe(false);
    expect(t.refused).toBe(1);
    expect(t.lastRefusal).toMatch(new RegExp(`${MAX_NODES} nodes known already; one-too-many not added`));
    expect(t.apply("n0", 2, state(["x"]))).toBe(true);
    expect(t.nodeIds()).toHaveLength(MAX_NODES);
  });

  it("refuses a state over the size limit, one with too many links, and a full table", () => {
    const t = new MeshTable("x");
    expect(t.apply("big", 1, sized(MAX_STATE_BYTES + 100))).toBe(false);
    expect(t.lastRefusal).toMatch(/state of big is \d+ bytes, over 65536/);
    const many = state(Array.from({ length: MAX_NODES + 1 }, (_, i) => `l${i}`));
    expect(t.apply("dense", 1, many)).toBe(false);
    let stored = 0;
    for (let i = 0; i < 100; i++) if (t.apply(`fat${i}`, 1, sized(60_000))) stored++;
    expect(stored).toBeGreaterThan(50);
    expect(stored).toBeLessThan(100);
    expect(t.lastRefusal).toMatch(/the table is full/);
    const bytes = t.nodeIds().reduce((n, id) => n + JSON.stringify(t.stateOf(id)).length, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_TABLE_BYTES);
  });

  it("never lets an expired or departed state come back with its old seq; a newer one is welcome", () => {
    let now = 1_000;
    const t = new MeshTable("x", () => now);
    t.apply("a", 5, state(["x"]));
    t.apply("b", 7, state(["x"]));
    expect(t.apply("b", 8, state([]), true)).toBe(true);
    now += 61_000;
    expect(t.expire()).toEqual(["a"]);
    // The same gossip circulating in the mesh (e.g. another node's link-up catch-up).
    expect(t.apply("a", 5, state(["x"]))).toBe(false);
    expect(t.apply("b", 7, state(["x"]))).toBe(false); // the leave outlives an expiry sweep too
    expect(t.known("a")).toBeUndefined();
    expect(t.apply("a", 6, state(["x"]))).toBe(true); // alive after all: a newer state
  });

  it("computes routes over the densest graph the table holds (every node linked to 256 others)", () => {
    const t = new MeshTable("n0");
    const ids = Array.from({ length: 640 }, (_, i) => `n${i}`);
    // Each node links to the 128 before and the 128 after it on a ring: 164k links, close to
    // what MAX_TABLE_BYTES lets gossip describe, every route several hops long.
    const near = (i: number) =>
      Array.from(
        { length: 256 },
        (_, k) => ids[(i + (k < 128 ? k - 128 : k - 127) + ids.length) % ids.length] as string,
      );
    t.setOwn(state(near(0)));
    let stored = 0;
    for (let i = 1; i < ids.length; i++) if (t.apply(ids[i] as string, 1, state(near(i)))) stored++;
    expect(stored).toBeGreaterThan(500);
    // Linear in links: tens of ms on a quiet machine; the bound only catches a blow-up.
    const t0 = performance.now();
    expect(t.routes().size).toBe(stored + 1);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
