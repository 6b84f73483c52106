import type { NodeState } from "./frames.ts";
import type { GossipProof } from "./gossip-sign.ts";

/**
 * PROTOCOL §5-6: what a node knows of the mesh (its own state and every other node's gossiped
 * state) and the routes that follow from it. Pure: no sockets, no timers; `now` is injected.
 */

const STATE_TTL_MS = 60_000;
/** PROTOCOL §5 bounds on what gossip may make a node hold. */
/**
 * Other nodes a table holds: room for a 1,000-node mesh (issue 17's 500 with headroom). The
 * byte cap below bounds what they may say in total, and so the links a route computation walks.
 */
export const MAX_NODES = 1024;
export const MAX_STATE_BYTES = 64 * 1024;
/** All stored states together: the link-up catch-up stays well under a link's 8 MiB send queue. */
export const MAX_TABLE_BYTES = 4 * 1024 * 1024;
/** Origins remembered after they left or expired, so their old gossip cannot bring them back. */
const MAX_TOMBSTONES = 4096;

interface KnownNode {
  seq: number;
  state: NodeState;
  /** The origin's signature, sent again with the state when a new link is caught up. */
  proof?: GossipProof;
  receivedAt: number;
  bytes: number;
}

export interface Route {
  node: string;
  /** 0 for this node, 1 for a direct link, more through relays. */
  hops: number;
  /** Summed round-trip estimate along the path, ms. */
  rtt: number;
  /** The directly linked node to send through (this node's id for itself). */
  via: string;
}

export const EMPTY_STATE: NodeState = { agents: [], models: [], tags: [], links: [], toolProxy: false };

export class MeshTable {
  readonly self: string;
  readonly #now: () => number;
  readonly #nodes = new Map<string, KnownNode>();
  /** origin -> the last seq it left or expired at; insertion order is age (oldest first). */
  readonly #tombstones = new Map<string, number>();
  #bytes = 0;
  #refused = 0;
  #lastRefusal: string | undefined;
  #own: NodeState = EMPTY_STATE;
  #seq: number;
  #routes: Map<string, Route> | undefined;
  /** Direct peers whose links are quiet (setQuiet); bounded by this node's links. */
  readonly #quiet = new Set<string>();

  constructor(self: string, now: () => number = Date.now) {
    this.self = self;
    this.#now = now;
    // Starting from the clock makes a restarted node's state newer than what others remember.
    this.#seq = now();
  }

  get seq(): number {
    return this.#seq;
  }

  get own(): NodeState {
    return this.#own;
  }

  /** Sets this node's state; returns the new sequence number to gossip. */
  setOwn(state: NodeState): number {
    this.#own = state;
    this.#seq = Math.max(this.#seq + 1, this.#now());
    this.#routes = undefined;
    return this.#seq;
  }

  /** Gossip refused for a bound (not for being old): a count, and the last reason. */
  get refused(): number {
    return this.#refused;
  }

  get lastRefusal(): string | undefined {
    return this.#lastRefusal;
  }

  #refuse(why: string): false {
    this.#refused++;
    this.#lastRefusal = why;
    return false;
  }

  #remove(origin: string, seq: number): boolean {
    const held = this.#nodes.get(origin);
    if (held) this.#bytes -= held.bytes;
    this.#nodes.delete(origin);
    this.#tombstones.delete(origin);
    this.#tombstones.set(origin, seq);
    if (this.#tombstones.size > MAX_TOMBSTONES) {
      const oldest = this.#tombstones.keys().next().value as string;
      this.#tombstones.delete(oldest);
    }
    this.#routes = undefined;
    return held !== undefined;
  }

  /**
   * Whether gossip for `origin` at `seq` could be news: newer than the state held and than the
   * tombstone. Checked before the signature, so a copy of a state already stored (a flood brings
   * one per link) costs a map lookup, not an Ed25519 verification.
   */
  isNews(origin: string, seq: number): boolean {
    if (origin === this.self) return false;
    const held = this.#nodes.get(origin);
    if (held && held.seq >= seq) return false;
    const tomb = this.#tombstones.get(origin);
    return tomb === undefined || tomb < seq;
  }

  /**
   * Stores gossip newer than what is held and within the bounds (PROTOCOL §5). True when it was
   * news (and must be forwarded); gossip over a bound is refused, counted, and not forwarded.
   */
  apply(origin: string, seq: number, state: NodeState, leaving = false, proof?: GossipProof): boolean {
    // A node that left or expired comes back only with a newer state, never with an old one.
    if (!this.isNews(origin, seq)) return false;
    const held = this.#nodes.get(origin);
    const tomb = this.#tombstones.get(origin);
    if (leaving) {
      const had = this.#remove(origin, seq);
      return had || tomb === undefined;
    }
    const bytes = Buffer.byteLength(JSON.stringify(state));
    if (bytes > MAX_STATE_BYTES)
      return this.#refuse(`state of ${origin} is ${bytes} bytes, over ${MAX_STATE_BYTES}`);
    if (state.links.length > MAX_NODES)
      return this.#refuse(`state of ${origin} lists ${state.links.length} links, over ${MAX_NODES}`);
    if (!held && this.#nodes.size >= MAX_NODES)
      return this.#refuse(`${MAX_NODES} nodes known already; ${origin} not added`);
    if (this.#bytes - (held?.bytes ?? 0) + bytes > MAX_TABLE_BYTES)
      return this.#refuse(`the table is full (${MAX_TABLE_BYTES} bytes); ${origin} not stored`);
    this.#bytes += bytes - (held?.bytes ?? 0);
    this.#tombstones.delete(origin);
    this.#nodes.set(origin, { seq, state, proof, receivedAt: this.#now(), bytes });
    this.#routes = undefined;
    return true;
  }

  /** Drops states not refreshed within the TTL; returns the ids dropped. */
  expire(ttlMs = STATE_TTL_MS): string[] {
    const cutoff = this.#now() - ttlMs;
    const gone: string[] = [];
    for (const [id, n] of [...this.#nodes])
      if (n.receivedAt < cutoff) {
        this.#remove(id, n.seq);
        gone.push(id);
      }
    return gone;
  }

  known(id: string): KnownNode | undefined {
    return this.#nodes.get(id);
  }

  stateOf(id: string): NodeState | undefined {
    return id === this.self ? this.#own : this.known(id)?.state;
  }

  nodeIds(): string[] {
    return [...this.#nodes.keys()];
  }

  /**
   * Edges: this node's live links as they are; others' only when both ends report them. The
   * link sets are built once per computation, so a dense graph costs O(edges), bounded by
   * MAX_NODES * MAX_NODES.
   */
  #neighbourFn(): (id: string) => Array<{ node: string; rtt: number }> {
    const sets = new Map<string, Set<string>>([[this.self, new Set(this.#own.links.map((l) => l.node))]]);
    for (const [id, n] of this.#nodes) sets.set(id, new Set(n.state.links.map((l) => l.node)));
    return (id) => {
      if (id === this.self) return this.#own.links;
      const s = this.#nodes.get(id)?.state;
      if (!s) return [];
      return s.links.filter((l) => sets.get(l.node)?.has(id) ?? false);
    };
  }

  /** Shortest paths from this node: fewest hops, then least summed rtt. */
  routes(): Map<string, Route> {
    if (this.#routes) return this.#routes;
    const neighbours = this.#neighbourFn();
    const best = new Map<string, Route>([[this.self, { node: this.self, hops: 0, rtt: 0, via: this.self }]]);
    let frontier = [this.self];
    while (frontier.length > 0) {
      const next = new Map<string, Route>();
      for (const from of frontier) {
        const r = best.get(from) as Route;
        for (const l of neighbours(from)) {
          if (best.has(l.node)) continue;
          const cand: Route = {
            node: l.node,
            hops: r.hops + 1,
            rtt: r.rtt + l.rtt,
            via: r.hops === 0 ? l.node : r.via,
          };
          const cur = next.get(l.node);
          if (!cur || cand.rtt < cur.rtt) next.set(l.node, cand);
        }
      }
      for (const [id, r] of next) best.set(id, r);
      frontier = [...next.keys()];
    }
    this.#routes = best;
    return best;
  }

  route(dst: string): Route | undefined {
    return this.routes().get(dst);
  }

  /**
   * PROTOCOL §6: nodes that can serve a target — a node id, an agent id or `tags:<tag>` — that
   * are reachable, this node first, then direct links, then relays, each by rtt.
   */
  candidates(target: string, want: (s: NodeState) => boolean = () => true): string[] {
    const routes = this.routes();
    let match: (id: string, s: NodeState) => boolean;
    if (target.startsWith("tags:")) {
      const tag = target.slice(5);
      match = (_id, s) => s.tags.includes(tag) || s.agents.some((a) => a.tags.includes(tag));
    } else if (target === this.self || this.known(target)) {
      match = (id) => id === target;
    } else {
      match = (_id, s) => s.agents.some((a) => a.id === target);
    }
    return this.#ordered((id, s) => match(id, s) && want(s), routes);
  }

  /** Nodes serving a model, in candidate order; only `node` when one is named. */
  modelCandidates(model: string, node?: string): string[] {
    return this.#ordered(
      (id, s) => (node === undefined || id === node) && s.models.some((m) => m.id === model),
      this.routes(),
    );
  }

  /**
   * Marks a direct link quiet (nothing heard for a while, liveness.ts) or not. Routes stay as
   * they are: a quiet peer may only be stalled. Candidates reached through it go last.
   */
  setQuiet(peer: string, quiet: boolean): void {
    if (quiet) this.#quiet.add(peer);
    else this.#quiet.delete(peer);
  }

  #ordered(match: (id: string, s: NodeState) => boolean, routes: Map<string, Route>): string[] {
    const quiet = (r: Route) => (r.hops > 0 && this.#quiet.has(r.via) ? 1 : 0);
    return [this.self, ...this.nodeIds()]
      .filter((id) => {
        const s = this.stateOf(id);
        return routes.has(id) && s !== undefined && match(id, s);
      })
      .sort((a, b) => {
        const ra = routes.get(a) as Route;
        const rb = routes.get(b) as Route;
        return quiet(ra) - quiet(rb) || Math.min(ra.hops, 2) - Math.min(rb.hops, 2) || ra.rtt - rb.rtt;
      });
  }
}
