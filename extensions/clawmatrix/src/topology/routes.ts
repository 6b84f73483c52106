import type { MeshNode } from "../mesh/node.ts";
import { buildGraph, type Graph } from "./graph.ts";
import { TOPOLOGY_HTML, TOPOLOGY_JSON_PATH, TOPOLOGY_PATH } from "./page.ts";

/** The mesh as `node` sees it now. */
export function meshGraph(node: MeshNode, state: string): Graph {
  const own = node.table.own;
  return buildGraph({
    self: {
      nodeId: node.id,
      state,
      tags: own.tags,
      agents: own.agents.map((a) => a.id),
      models: own.models.map((m) => m.id),
    },
    peers: node.status().peers,
    linksOf: (id) => node.table.stateOf(id)?.links ?? [],
  });
}

interface Res {
  statusCode: number;
  setHeader(k: string, v: string): void;
  end(body: string): void;
}
type Route = {
  path: string;
  auth: "plugin" | "gateway";
  match: "exact";
  handler: (req: { method?: string }, res: Res) => boolean;
};
interface TopologyHost {
  registerHttpRoute?(params: Route): void;
}

/** The graph, or why there is none (the mesh disabled or not running). */
export type GraphRead = () => { graph: Graph } | { unavailable: string };

function send(res: Res, status: number, type: string, body: string): boolean {
  res.statusCode = status;
  res.setHeader("content-type", type);
  res.setHeader("cache-control", "no-store");
  res.end(body);
  return true;
}

/**
 * `GET /bundle/topology`: the page, a static shell with no mesh data (so it needs no token to
 * load); `GET /bundle/topology.json`: the graph it draws, behind the gateway's auth.
 */
export function registerTopologyRoutes(host: TopologyHost, read: GraphRead): void {
  host.registerHttpRoute?.({
    path: TOPOLOGY_PATH,
    auth: "plugin",
    match: "exact",
    handler: (_req, res) => {
      res.setHeader(
        "content-security-policy",
        "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
      );
      return send(res, 200, "text/html; charset=utf-8", TOPOLOGY_HTML);
    },
  });
  host.registerHttpRoute?.({
    path: TOPOLOGY_JSON_PATH,
    auth: "gateway",
    match: "exact",
    handler: (_req, res) => {
      const r = read();
      if ("unavailable" in r)
        return send(
          res,
          503,
          "application/json",
          JSON.stringify({ error: "UNAVAILABLE", message: r.unavailable }),
        );
      return send(res, 200, "application/json", JSON.stringify(r.graph));
    },
  });
}
