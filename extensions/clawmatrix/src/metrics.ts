import { boundLabels, counter, gauge, histogram, inc, label, observe } from "@openclaw-bundle/shared";

/**
 * The mesh's Prometheus metrics. The mesh code calls these one line per event; gauges that mirror
 * live state (peer up, requests in flight) are read from the running node at scrape time through
 * `bindMeshNode`, so they cannot drift from what `clawmatrix.status` says.
 */

const MAX_PEERS = 256;
// On globalThis, like the registry: the gauge created by one copy of this module must read the
// node that whichever copy started.
const NODE_KEY = Symbol.for("openclaw-bundle.metrics.mesh-node");
const g = globalThis as Record<symbol, unknown>;

gauge({
  name: "clawmatrix_peer_up",
  help: "1 when this node has a route (direct or relayed) to the peer, 0 when it is known but unreachable",
  labelNames: ["peer"] as const,
  collect() {
    this.reset();
    const node = (g[NODE_KEY] as (() => LiveNode | undefined) | undefined)?.();
    if (!node) return;
    for (const p of node.status().peers.slice(0, MAX_PEERS))
      this.set({ peer: label(p.nodeId) }, p.status === "unreachable" ? 0 : 1);
  },
});

const inFlight = gauge({
  name: "clawmatrix_requests_in_flight",
  help: "Mesh requests this node is waiting on (side=caller) or serving (side=server), by kind",
  labelNames: ["kind", "side"] as const,
});

const rtt = histogram({
  name: "clawmatrix_link_rtt_seconds",
  help: "Heartbeat round trip of each direct link, per sample",
  labelNames: ["peer"] as const,
});
const reconnects = counter({
  name: "clawmatrix_reconnects_total",
  help: "Dials again after a link to a configured peer failed or dropped",
  labelNames: ["peer"] as const,
});
const authFailures = counter({
  name: "clawmatrix_auth_failures_total",
  help: "Connections refused before or during the handshake, by reason",
  labelNames: ["reason"] as const,
});
const dropped = counter({
  name: "clawmatrix_frames_dropped_total",
  help: "Frames dropped instead of handled, by reason",
  labelNames: ["reason"] as const,
});
const relayed = counter({
  name: "clawmatrix_frames_relayed_total",
  help: "Routed frames this node forwarded for others",
});
const requests = counter({
  name: "clawmatrix_requests_total",
  help: "Mesh requests this node sent, by kind and outcome (ok or the error code)",
  labelNames: ["kind", "outcome"] as const,
});
const duration = histogram({
  name: "clawmatrix_request_duration_seconds",
  help: "Time from sending a mesh request to its answer (or failure), by kind",
  labelNames: ["kind"] as const,
});
/**
 * Bytes are counted for every frame, so a frame only adds to a plain number (labels made safe
 * once per peer and direction); the counter takes the sums when it is scraped. prom-client's
 * `inc` hashes its labels on every call: 6% of a relay's CPU when it ran per frame.
 */
const pendingBytes = new Map<
  string,
  { labels: ReturnType<typeof boundLabels<"peer" | "direction">>; n: number }
>();
const bytes = counter({
  name: "clawmatrix_link_bytes_total",
  help: "Bytes on the wire of each direct link (sealed frames), by direction",
  labelNames: ["peer", "direction"] as const,
  collect() {
    for (const p of pendingBytes.values())
      if (p.n > 0) {
        this.inc(p.labels, p.n);
        p.n = 0;
      }
  },
});

interface LiveNode {
  status(): { peers: Array<{ nodeId: string; status: string }> };
}
/** Where the scrape reads the running node from (the plugin's live slot). */
export function bindMeshNode(read: () => LiveNode | undefined): void {
  g[NODE_KEY] = read;
}

/** Why a frame was dropped, reduced to a fixed word (the text names peers and sizes). */
export function dropReason(text: string): string {
  if (/over the limit|too big|oversize/i.test(text)) return "oversize";
  if (/unsealed|text/i.test(text)) return "unsealed";
  if (/replay|sequence|counter/i.test(text)) return "replay";
  if (/decrypt|seal|tag|auth/i.test(text)) return "unauthentic";
  if (/ttl/i.test(text)) return "ttl";
  if (/not routed|unroutable/i.test(text)) return "not_routed";
  return "malformed";
}

export const meshMetrics = {
  rtt(peer: string, ms: number): void {
    observe(rtt, { peer }, ms / 1000);
  },
  reconnect(peer: string): void {
    inc(reconnects, { peer });
  },
  authFailure(reason: string): void {
    inc(authFailures, { reason: reason.replace(/[^A-Za-z0-9]+/g, "_").slice(0, 40) });
  },
  dropped(reason: string): void {
    inc(dropped, { reason });
  },
  relayed(): void {
    relayed.inc();
  },
  bytes(peer: string, direction: "in" | "out", n: number): void {
    const key = `${direction}|${peer}`;
    let p = pendingBytes.get(key);
    if (!p) {
      if (pendingBytes.size >= 2 * MAX_PEERS) {
        // Peer ids come from the network: the map is bounded; what it held is counted first.
        for (const q of pendingBytes.values()) if (q.n > 0) bytes.inc(q.labels, q.n);
        pendingBytes.clear();
      }
      p = { labels: boundLabels(bytes, { peer, direction }), n: 0 };
      pendingBytes.set(key, p);
    }
    p.n += n;
  },
  /** A request leaving this node; the returned function records how it ended. */
  request(kind: string, side: "caller" | "server" = "caller"): (outcome: string) => void {
    const k = label(kind);
    const start = performance.now();
    inFlight.inc({ kind: k, side });
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      inFlight.dec({ kind: k, side });
      if (side !== "caller") return;
      inc(requests, { kind: k, outcome: outcome.replace(/^MESH_ERR_/, "") });
      observe(duration, { kind: k }, (performance.now() - start) / 1000);
    };
  },
};
