import { describe, expect, it } from "vitest";
import { buildGraph, type GraphInput, graphSchema, toDot } from "./graph.ts";
import { TOPOLOGY_HTML } from "./page.ts";

const none = { tags: [], agents: [], models: [] };
// node-a's view of the compose topology: b and c dial a; b and c have no link of their own.
const LINKS: Record<string, Array<{ node: string; rtt: number }>> = {
  "node-a": [
    { node: "node-b", rtt: 1.24 },
    { node: "node-c", rtt: 2 },
  ],
  "node-b": [{ node: "node-a", rtt: 1.3 }],
  "node-c": [{ node: "node-a", rtt: 2.1 }],
};

function input(bStatus = "direct"): GraphInput {
  return {
    self: { nodeId: "node-a", state: "running", tags: ["relay"], agents: ["main"], models: [] },
    peers: [
      {
        nodeId: "node-b",
        status: bStatus,
        hops: 1,
        latencyMs: 1.2,
        tags: ["office"],
        agents: ["main"],
        models: ["mock-model"],
      },
      { nodeId: "node-c", status: "direct", hops: 1, latencyMs: 2, ...none },
    ],
    linksOf: (id) => LINKS[id] ?? [],
  };
}

describe("topology graph", () => {
  it("has the nodes, the links both ends report, and the relay between the two that have none", () => {
    const g = buildGraph(input(), new Date("2026-01-01T00:00:00Z"));
    expect(g.nodes.map((n) => [n.id, n.status])).toEqual([
      ["node-a", "self"],
      ["node-b", "direct"],
      ["node-c", "direct"],
    ]);
    expect(g.links).toEqual([
      { a: "node-a", b: "node-b", rttMs: 1.2 },
      { a: "node-a", b: "node-c", rttMs: 2 },
    ]);
    expect(g.relays).toEqual([{ a: "node-b", b: "node-c", via: ["node-a"] }]);
    expect(g.nodes[1]).toMatchObject({ tags: ["office"], models: ["mock-model"] });
    expect(graphSchema.parse(JSON.parse(JSON.stringify(g)))).toEqual(g);
  });

  it("keeps an unreachable node, without its stale links or relays", () => {
    const g = buildGraph(input("unreachable"));
    expect(g.nodes.find((n) => n.id === "node-b")?.status).toBe("unreachable");
    expect(g.links).toEqual([{ a: "node-a", b: "node-c", rttMs: 2 }]);
    expect(g.relays).toEqual([]);
  });

  it("does not draw a link only one side reports", () => {
    const lopsided = {
      ...input(),
      linksOf: (id: string) => (id === "node-b" ? [{ node: "node-c", rtt: 1 }] : (LINKS[id] ?? [])),
    };
    expect(buildGraph(lopsided).links.some((l) => l.a === "node-b" && l.b === "node-c")).toBe(false);
  });

  it("prints Graphviz text: boxes, rtt-labelled links, dashed relays, quotes escaped", () => {
    const g = buildGraph(input("unreachable"));
    g.nodes[2] = { ...(g.nodes[2] as (typeof g.nodes)[number]), tags: ['a"b'] };
    const dot = toDot(g);
    expect(dot).toMatch(/^graph clawmatrix \{/);
    expect(dot).toContain('"node-a" -- "node-c" [label="2 ms"];');
    expect(dot).toContain('"node-b" [label="node-b\\nunreachable\\ntags: office');
    expect(dot).toContain("style=dashed, color=red");
    expect(dot).toContain('tags: a\\"b');
    expect(dot.trim().endsWith("}")).toBe(true);
  });

  it("the page loads nothing from elsewhere and carries no mesh data", () => {
    // The only URLs are the SVG and XHTML namespace names, which are identifiers, not fetched.
    expect(TOPOLOGY_HTML).not.toMatch(/https?:\/\/(?!www\.w3\.org\/(2000\/svg|1999\/xhtml))/);
    expect(TOPOLOGY_HTML).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    expect(TOPOLOGY_HTML).toContain("/bundle/topology.json");
    // The inline script compiles (the browser test runs it; this catches a broken template early).
    const script = TOPOLOGY_HTML.split("<script>")[1]?.split("</script>")[0] ?? "";
    expect(script.length).toBeGreaterThan(1000);
    expect(() => new Function(script)).not.toThrow();
  });
});
