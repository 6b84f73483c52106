/**
 * The mesh as one node sees it, for the topology page and `peers --dot`: nodes (with how this node
 * reaches them), the links gossip reports (an edge only when both ends report it, as routing
 * does), and the relayed routes between nodes that have no link of their own. Pure: built from
 * what `MeshNode.status()` and the table's states say.
 */

import { z } from "zod";

export interface GraphInput {
  self: { nodeId: string; state: string; tags: string[]; agents: string[]; models: string[] };
  peers: Array<{
    nodeId: string;
    status: string;
    via?: string;
    hops?: number;
    latencyMs?: number;
    tags: string[];
    agents: string[];
    models: string[];
  }>;
  /** Each node's links as its gossiped state (or, for self, its live links) reports them. */
  linksOf: (nodeId: string) => Array<{ node: string; rtt: number }>;
}

export interface GraphNode {
  id: string;
  /** self, direct, relay or unreachable: how the viewing node reaches it. */
  status: "self" | "direct" | "relay" | "unreachable";
  via?: string;
  hops?: number;
  latencyMs?: number;
  tags: string[];
  agents: string[];
  models: string[];
}

export interface Graph {
  self: string;
  state: string;
  at: string;
  nodes: GraphNode[];
  /** Live links between two reachable nodes, with the round trip the reporting side measured. */
  links: Array<{ a: string; b: string; rttMs: number }>;
  /** Pairs of reachable nodes without a link: traffic between them goes through `via`. */
  relays: Array<{ a: string; b: string; via: string[] }>;
}

const names = z.array(z.string().max(256)).max(256);
/** The graph as the CLI reads it back from the gateway: checked, not trusted. */
export const graphSchema = z.object({
  self: z.string().max(256),
  state: z.string().max(32),
  at: z.string().max(64),
  nodes: z
    .array(
      z.object({
        id: z.string().max(256),
        status: z.enum(["self", "direct", "relay", "unreachable"]),
        via: z.string().max(256).optional(),
        hops: z.number().optional(),
        latencyMs: z.number().optional(),
        tags: names,
        agents: names,
        models: names,
      }),
    )
    .max(256),
  links: z.array(z.object({ a: z.string().max(256), b: z.string().max(256), rttMs: z.number() })).max(65_536),
  relays: z.array(z.object({ a: z.string().max(256), b: z.string().max(256), via: names })).max(65_536),
});

/** Nodes drawn at most: beyond this the page would be unreadable anyway (the table caps at 256). */
export const MAX_GRAPH_NODES = 64;

const STATUSES = new Set(["direct", "relay", "unreachable"]);

export function buildGraph(input: GraphInput, now = new Date()): Graph {
  const nodes: GraphNode[] = [
    { id: input.self.nodeId, status: "self", ...pick(input.self) },
    ...input.peers.slice(0, MAX_GRAPH_NODES - 1).map((p) => ({
      id: p.nodeId,
      status: (STATUSES.has(p.status) ? p.status : "unreachable") as GraphNode["status"],
      ...(p.via ? { via: p.via } : {}),
      ...(p.hops !== undefined ? { hops: p.hops } : {}),
      ...(p.latencyMs !== undefined ? { latencyMs: p.latencyMs } : {}),
      ...pick(p),
    })),
  ];
  const reachable = new Set(nodes.filter((n) => n.status !== "unreachable").map((n) => n.id));
  // An edge counts when both ends say so (self's live links count as said by both).
  const said = new Map<string, Map<string, number>>();
  for (const id of reachable) said.set(id, new Map(input.linksOf(id).map((l) => [l.node, l.rtt])));
  const self = input.self.nodeId;
  const links: Graph["links"] = [];
  const adjacent = new Map<string, Set<string>>([...reachable].map((id) => [id, new Set<string>()]));
  const ids = [...reachable].sort();
  for (const a of ids)
    for (const b of ids) {
      if (a >= b) continue;
      // Self's live links are the truth for self; two others must both report theirs.
      const rtt = (x: string, y: string) => said.get(x)?.get(y);
      const linked =
        a === self
          ? rtt(a, b) !== undefined
          : b === self
            ? rtt(b, a) !== undefined
            : rtt(a, b) !== undefined && rtt(b, a) !== undefined;
      if (!linked) continue;
      links.push({ a, b, rttMs: round((b === self ? rtt(b, a) : rtt(a, b)) ?? 0) });
      adjacent.get(a)?.add(b);
      adjacent.get(b)?.add(a);
    }
  const relays: Graph["relays"] = [];
  for (const a of ids)
    for (const b of ids) {
      if (a >= b || adjacent.get(a)?.has(b)) continue;
      const path = shortestPath(adjacent, a, b);
      if (path && path.length > 2) relays.push({ a, b, via: path.slice(1, -1) });
    }
  return { self, state: input.self.state, at: now.toISOString(), nodes, links, relays };
}

function pick(n: { tags: string[]; agents: string[]; models: string[] }) {
  return { tags: [...n.tags], agents: [...n.agents], models: [...n.models] };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Fewest hops, ties broken by node id so the page does not flicker between equal paths. */
function shortestPath(adj: Map<string, Set<string>>, from: string, to: string): string[] | undefined {
  const prev = new Map<string, string>([[from, from]]);
  let frontier = [from];
  while (frontier.length > 0 && !prev.has(to)) {
    const next: string[] = [];
    for (const x of frontier)
      for (const y of [...(adj.get(x) ?? [])].sort())
        if (!prev.has(y)) {
          prev.set(y, x);
          next.push(y);
        }
    frontier = next;
  }
  if (!prev.has(to)) return undefined;
  const path = [to];
  while (path[0] !== from) path.unshift(prev.get(path[0] as string) as string);
  return path;
}

/** Graphviz text of the graph: solid edges for links (labelled with rtt), dashed for relays. */
export function toDot(g: Graph): string {
  const esc = (s: string) => s.replace(/["\\]/g, "\\$&").replace(/[\r\n]+/g, " ");
  const q = (s: string) => `"${esc(s)}"`;
  const lines = [
    `graph clawmatrix {`,
    `  label=${q(`mesh seen from ${g.self} at ${g.at}`)};`,
    "  node [shape=box];",
  ];
  for (const n of g.nodes) {
    const detail = [
      n.status === "relay" && n.via ? `relay via ${n.via}` : n.status,
      n.tags.length ? `tags: ${n.tags.join(", ")}` : "",
      n.agents.length ? `agents: ${n.agents.join(", ")}` : "",
      n.models.length ? `models: ${n.models.join(", ")}` : "",
    ].filter(Boolean);
    const style =
      n.status === "unreachable" ? ", style=dashed, color=red" : n.status === "self" ? ", penwidth=2" : "";
    // Each part escaped on its own: the "\n" between them is Graphviz's line break, not text.
    lines.push(`  ${q(n.id)} [label="${[n.id, ...detail].map(esc).join("\\n")}"${style}];`);
  }
  for (const l of g.links) lines.push(`  ${q(l.a)} -- ${q(l.b)} [label=${q(`${l.rttMs} ms`)}];`);
  for (const r of g.relays)
    lines.push(`  ${q(r.a)} -- ${q(r.b)} [style=dashed, color=gray, label=${q(`via ${r.via.join(", ")}`)}];`);
  lines.push("}");
  return lines.join("\n");
}
