import type { NodeState } from "./frames.ts";

/**
 * PROTOCOL §5-6: what a node knows of the mesh (its own state and every other node's gossiped
 * state) and the routes that follow from it. Pure: no sockets, no timers; `now` is injected.
 */

const STATE_TTL_MS = 60_000;

interface KnownNode {
  seq: number;
  state: NodeState;
  receivedAt: number;
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
  #own: NodeState = EMPTY_STATE;
  #seq: number;
  #routes: Map<string, Route> | undefined;

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

  /** Stores gossip newer than what is held. True when it was news (and must be forwarded). */
  apply(origin: string, seq: number, state: NodeState, leaving = false): boolean {
    if (origin === this.self) return false;
    const held = this.#nodes.get(origin);
    if (held && held.seq >= seq) return false;
    if (leaving) {
      const had = this.#nodes.delete(origin);
      // Remember the leave's seq so an older, delayed gossip cannot resurrect the node.
      this.#nodes.set(origin, { seq, state: EMPTY_STATE, receivedAt: -Infinity });
      this.#routes = undefined;
      return had || !held;
    }
    this.#nodes.set(origin, { seq, state, receivedAt: this.#now() });
    this.#routes = undefined;
    return true;
  }

  /** Drops states not refreshed within the TTL; returns the ids dropped. */
  expire(ttlMs = STATE_TTL_MS): string[] {
    const cutoff = this.#now() - ttlMs;
    const gone: string[] = [];
    for (const [id, n] of this.#nodes) {
      if (n.receivedAt < cutoff) {
        this.#nodes.delete(id);
        if (n.receivedAt !== -Infinity) gone.push(id);
      }
    }
    if (gone.length) this.#routes = undefined;
    return gone;
  }

  known(id: string): KnownNode | undefined {
    const n = this.#nodes.get(id);
    return n && n.receivedAt !== -Infinity ? n : undefined;
  }

  stateOf(id: string): NodeState | undefined {
    return id === this.self ? this.#own : this.known(id)?.state;
  }

  nodeIds(): string[] {
    return [...this.#nodes.keys()].filter((id) => this.known(id));
  }

  /** Edges: this node's live links as they are; others' only when both ends report them. */
  #neighbours(id: string): Array<{ node: string; rtt: number }> {
    if (id === this.self) return this.#own.links;
    const s = this.known(id)?.state;
    if (!s) return [];
    return s.links.filter((l) => {
      if (l.node === this.self) return this.#own.links.some((o) => o.node === id);
      return this.known(l.node)?.state.links.some((b) => b.node === id) ?? false;
    });
  }

  /** Shortest paths from this node: fewest hops, then least summed rtt. */
  routes(): Map<string, Route> {
    if (this.#routes) return this.#routes;
    const best = new Map<string, Route>([[this.self, { node: this.self, hops: 0, rtt: 0, via: this.self }]]);
    let frontier = [this.self];
    while (frontier.length > 0) {
      const next = new Map<string, Route>();
      for (const from of frontier) {
        const r = best.get(from) as Route;
        for (const l of this.#neighbours(from)) {
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

  #ordered(match: (id: string, s: NodeState) => boolean, routes: Map<string, Route>): string[] {
    return [this.self, ...this.nodeIds()]
      .filter((id) => {
        const s = this.stateOf(id);
        return routes.has(id) && s !== undefined && match(id, s);
      })
      .sort((a, b) => {
        const ra = routes.get(a) as Route;
        const rb = routes.get(b) as Route;
        return Math.min(ra.hops, 2) - Math.min(rb.hops, 2) || ra.rtt - rb.rtt;
      });
  }
}
