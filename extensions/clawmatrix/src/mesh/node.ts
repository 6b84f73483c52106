import { BoundedSet, type Logger, Periodic, Throttle } from "@openclaw-bundle/shared";
import type WebSocket from "ws";
import { dropReason, meshMetrics } from "../metrics.ts";
import {
  encodeFrameBytes,
  type Frame,
  type FrameOf,
  isRouted,
  MAX_DIGEST_ENTRIES,
  MAX_TTL,
  type NodeState,
  type RequestKind,
  type RoutedFrame,
  relayed,
} from "../protocol/frames.ts";
import { GossipKeys, signGossip } from "../protocol/gossip-sign.ts";
import { HANDSHAKE_TIMEOUT_MS, type HandshakeAuth, NonceMemory } from "../protocol/handshake.ts";
import { NodeKey } from "../protocol/identity.ts";
import { macRouted, routedMacOk, routedSignedBy, signRouted } from "../protocol/origin-sign.ts";
import { DhKey, PairKeys } from "../protocol/pair-key.ts";
import { KeyPins } from "../protocol/pins.ts";
import type { SessionKeys } from "../protocol/session.ts";
import { MAX_STATE_BYTES, MeshTable } from "../protocol/table.ts";
import {
  Admission,
  MAX_PENDING_HANDSHAKES,
  MAX_PENDING_PER_ADDRESS,
  REFUSAL_LOG_INTERVAL_MS,
  RefusalLog,
} from "./admission.ts";
import { Dialers } from "./dialer.ts";
import { newId } from "./ids.ts";
import { CLOSE, Link, type LinkEvents } from "./link.ts";
import { MeshListener } from "./listener.ts";
import { MAX_HELD_FRAMES, MAX_HELD_PER_ORIGIN, ORIGIN_HOLD_MS, OriginHold } from "./origin-hold.ts";
import { type Handler, MAX_SERVING, MAX_SERVING_PER_PEER, Requests } from "./requests.ts";
import type { ListenerTls } from "./tls.ts";

/**
 * A mesh node: accepts (when listening) and dials authenticated links, floods gossip, relays
 * routed frames along the table's shortest paths, and serves requests with registered handlers.
 */

const GOSSIP_INTERVAL_MS = 15_000;
/**
 * Least time between two announcements of this node's links: a burst of link changes (a hub
 * while a mesh forms) becomes one state, not one per link, which every node would verify.
 */
const ANNOUNCE_GAP_MS = 100;
const DEDUP_SIZE = 8192;
const _RECONNECT_MIN_MS = 1_000;
const _RECONNECT_MAX_MS = 60_000;

export interface MeshNodeOptions {
  nodeId: string;
  secret: string;
  listen?: { host: string; port: number };
  /** `fingerprint`: the SHA-256 of a `wss://` peer's certificate, pinned (PROTOCOL §2a). */
  peers: Array<{ nodeId: string; url: string; fingerprint?: string }>;
  /** Serve `wss://` with this certificate (PROTOCOL §2a); plain `ws://` without it. */
  tls?: ListenerTls;
  /** PEM CA certificates that verify `wss://` peers without a pinned fingerprint. */
  tlsCa?: string;
  state: Omit<NodeState, "links">;
  handlers: Partial<Record<RequestKind, Handler>>;
  logger: Logger;
  /**
   * This node's identity key and the peer keys it accepts (PROTOCOL §3b). The service loads both
   * from the state volume; without them the node uses a fresh key and pins kept in memory only.
   */
  key?: NodeKey;
  pins?: KeyPins;
  /** This node's X25519 key for pair keys (PROTOCOL §6a), kept beside `key`; fresh without it. */
  dhKey?: DhKey;
  heartbeatMs?: number;
  /** How long a link may stay silent before it is cut (liveness.ts); tests and benches shrink it. */
  silenceMs?: number;
  /** How long a link may stay silent before it counts as quiet (liveness.ts); tests shrink it. */
  quietMs?: number;
  /** Limits (PROTOCOL §1, §7); the defaults suit production, tests shrink them. */
  limits?: Partial<MeshLimits>;
}

interface MeshLimits {
  /** Requests served at once (PROTOCOL §7), in total and per calling node. */
  maxServing: number;
  maxServingPerPeer: number;
  handshakeTimeoutMs: number;
  maxPending: number;
  maxPendingPerAddress: number;
  refusalLogIntervalMs: number;
  /** How long a frame from an origin whose key is not known yet is held (PROTOCOL §6a). */
  originHoldMs: number;
}

const DEFAULT_PRE_AUTH_LIMITS: MeshLimits = {
  maxServing: MAX_SERVING,
  maxServingPerPeer: MAX_SERVING_PER_PEER,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  maxPending: MAX_PENDING_HANDSHAKES,
  maxPendingPerAddress: MAX_PENDING_PER_ADDRESS,
  refusalLogIntervalMs: REFUSAL_LOG_INTERVAL_MS,
  originHoldMs: ORIGIN_HOLD_MS,
};

interface MeshCounters {
  framesDropped: number;
  authFailures: number;
  relayed: number;
  served: number;
  overloaded: number;
  /** Gossip refused by the origin rule (PROTOCOL §5a): a wrong key or signature. */
  gossipForged: number;
  /** Routed frames dropped at their destination: no valid proof by their `src` (PROTOCOL §6a). */
  forgedOrigin: number;
  /** Routed frames whose origin's key was not known on arrival, held until it was (PROTOCOL §6a). */
  heldForKey: number;
  /** Gossip that was news (stored and passed on), and copies of what was held already. */
  gossipNews: number;
  gossipCopies: number;
}

export class MeshNode {
  readonly id: string;
  readonly table: MeshTable;
  readonly links = new Map<string, Link>();
  readonly counters: MeshCounters = {
    framesDropped: 0,
    authFailures: 0,
    relayed: 0,
    served: 0,
    overloaded: 0,
    gossipForged: 0,
    forgedOrigin: 0,
    heldForKey: 0,
    gossipNews: 0,
    gossipCopies: 0,
  };
  readonly requests: Requests;
  readonly #opts: MeshNodeOptions;
  readonly #log: Logger;
  readonly #nonces = new NonceMemory();
  readonly #seen = new BoundedSet<string>(DEDUP_SIZE);
  /** Links whose digest was answered (once each). */
  readonly #caughtUp = new WeakSet<Link>();
  readonly #dialers: Dialers;

  readonly #refresh: Periodic;
  readonly #announcer: Throttle;
  readonly #limits: MeshLimits;
  readonly #admission: Admission;
  readonly #refusals: RefusalLog;
  readonly #auth: HandshakeAuth;
  readonly #gossipKeys: GossipKeys;
  readonly #pairKeys: PairKeys;
  readonly #held: OriginHold;
  readonly #listener: MeshListener;
  #stopped = true;
  #listenPort: number | undefined;

  constructor(opts: MeshNodeOptions) {
    this.id = opts.nodeId;
    this.#opts = opts;
    this.#log = opts.logger;
    this.table = new MeshTable(opts.nodeId);
    this.#limits = { ...DEFAULT_PRE_AUTH_LIMITS, ...opts.limits };
    this.#admission = new Admission(this.#limits);
    this.#refusals = new RefusalLog(opts.logger, this.#limits.refusalLogIntervalMs);
    this.#auth = {
      secret: opts.secret,
      self: opts.nodeId,
      key: opts.key ?? NodeKey.generate(),
      pins: opts.pins ?? new KeyPins(),
    };
    this.#gossipKeys = new GossipKeys((origin) => this.#auth.pins.keysOf(origin));
    this.#pairKeys = new PairKeys(opts.nodeId, opts.dhKey ?? DhKey.generate());
    this.#held = new OriginHold(
      (frames) => {
        // The origin's key never came: nothing can show these frames are its own.
        for (const f of frames) this.#refuseOrigin(f, "origin key unknown after the hold");
      },
      { holdMs: this.#limits.originHoldMs, maxHeld: MAX_HELD_FRAMES, maxPerOrigin: MAX_HELD_PER_ORIGIN },
    );
    this.requests = new Requests(this, opts.handlers, opts.logger, this.#limits);
    this.#dialers = new Dialers({
      auth: this.#auth,
      handshakeTimeoutMs: this.#limits.handshakeTimeoutMs,
      ...(opts.tlsCa ? { tlsCa: opts.tlsCa } : {}),
      log: opts.logger,
      refusals: this.#refusals,
      stopped: () => this.#stopped,
      onRefused: (reason) => this.#refused(reason),
      onAuthenticated: (ws, peer, keys) => this.#adopt(ws, peer, "out", keys),
    });
    this.#listener = new MeshListener({
      auth: this.#auth,
      nonces: this.#nonces,
      admission: this.#admission,
      refusals: this.#refusals,
      handshakeTimeoutMs: this.#limits.handshakeTimeoutMs,
      ...(opts.tls ? { tls: opts.tls } : {}),
      log: opts.logger,
      onRefused: (reason) => this.#refused(reason),
      onAuthenticated: (ws, peer, keys) => this.#adopt(ws, peer, "in", keys),
    });
    this.#announcer = new Throttle(ANNOUNCE_GAP_MS, () => this.#announce());
    this.#refresh = new Periodic({ name: "mesh gossip refresh", intervalMs: GOSSIP_INTERVAL_MS }, () => {
      for (const gone of this.table.expire()) {
        this.#gossipKeys.forget(gone);
        this.#log.info(`node ${gone} expired (no gossip for a minute)`);
      }
      this.#announce();
    });
  }

  get listenPort(): number | undefined {
    return this.#listenPort;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#setOwn([]);
    const own = Buffer.byteLength(JSON.stringify(this.table.own));
    if (own > MAX_STATE_BYTES / 2)
      this.#log.warn(
        `this node's gossiped state is ${own} bytes; peers refuse states over ${MAX_STATE_BYTES} (shorten agent or model descriptions)`,
      );
    if (this.#opts.listen)
      this.#listenPort = await this.#listener.start(this.#opts.listen.host, this.#opts.listen.port);
    // A StatefulSet gives every replica the same peer list, its own entry included: never dial it.
    for (const p of this.#opts.peers)
      if (p.nodeId !== this.id) this.#dialers.dial(p.nodeId, p.url, p.fingerprint);
    this.#announcer.start();
    this.#refresh.start();
    this.#refusals.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#refresh.stop();
    this.#announcer.stop();
    await this.#refusals.stop();
    this.requests.cancelAll("the mesh is stopping");
    this.#held.clear();
    // PROTOCOL §5: a leaving node says so, so others drop it at once instead of timing it out.
    this.#setOwn([]);
    this.#flood(this.#ownGossip(true));
    const linked = new Set<WebSocket>();
    for (const l of this.links.values()) {
      linked.add(l.ws);
      l.close(CLOSE.LEAVING, "leaving");
    }
    this.links.clear();
    this.#dialers.stop(linked);
    await this.#listener.stop();
  }

  /**
   * Sends a routed frame toward its `dst` (or handles it here). False when there is no route.
   * `plain`, when given, is the frame already encoded (sizes.ts encodeChecked): sent as it is.
   */
  route(frame: RoutedFrame, plain?: Buffer): boolean {
    if (frame.dst === this.id) {
      this.requests.deliver(frame);
      return true;
    }
    const r = this.table.route(frame.dst);
    const link = r ? this.links.get(r.via) : undefined;
    if (!link?.open) return false;
    // A routed frame this node originates carries its proof when it will be relayed (PROTOCOL
    // §6a), which changes its encoding; on the link to its dst, the link's sealing already
    // proves who sent it.
    if (frame.src === this.id && !frame.sig && !frame.mac && link.peer !== frame.dst)
      return link.send(this.#prove(frame));
    return plain ? link.sendEncoded(frame.t, plain) : link.send(frame);
  }

  /** An HMAC under the pair key with `dst`; an Ed25519 signature when dst publishes no X25519 key. */
  #prove(frame: RoutedFrame): RoutedFrame {
    const dh = this.table.stateOf(frame.dst)?.dh;
    const key = dh ? this.#pairKeys.keyFor(frame.dst, dh) : undefined;
    return key ? macRouted(key, frame) : signRouted(this.#auth.key, frame);
  }

  status() {
    const routes = this.table.routes();
    const peers = this.table.nodeIds().map((id) => {
      const r = routes.get(id);
      const s = this.table.stateOf(id);
      return {
        nodeId: id,
        status: !r ? "unreachable" : r.hops === 1 ? "direct" : "relay",
        via: r && r.hops > 1 ? r.via : undefined,
        // Reached through a link that has been silent for a while: routed around for now.
        ...(r && this.links.get(r.via)?.quiet ? { quiet: true } : {}),
        hops: r?.hops,
        latencyMs: r ? Math.round(r.rtt * 10) / 10 : undefined,
        tags: s?.tags ?? [],
        agents: s?.agents.map((a) => a.id) ?? [],
        models: s?.models.map((m) => m.id) ?? [],
        toolProxy: s?.toolProxy ?? false,
      };
    });
    for (const [id, lastError] of this.#dialers.peers())
      if (!this.links.has(id) && !peers.some((p) => p.nodeId === id))
        peers.push({
          nodeId: id,
          status: "unreachable",
          via: undefined,
          hops: undefined,
          latencyMs: undefined,
          tags: [],
          agents: [],
          models: [],
          toolProxy: false,
          ...(lastError ? { lastError } : {}),
        });
    return {
      nodeId: this.id,
      publicKey: this.#auth.key.publicKey,
      tlsFingerprint: this.#opts.tls?.fingerprint,
      listenPort: this.#listenPort,
      links: [...this.links.keys()],
      pendingHandshakes: this.#admission.pending,
      peers,
      counters: { ...this.counters, gossipRefused: this.table.refused },
    };
  }

  // --- links ---------------------------------------------------------------------------------

  readonly #events: LinkEvents = {
    onFrame: (link, f) => this.#onFrame(link, f),
    onClose: (link, why) => this.#onLinkClosed(link, why),
    onQuiet: (link, silentMs) => {
      if (this.links.get(link.peer) !== link || this.#stopped) return;
      this.#log.info(
        `mesh link quiet: ${link.peer} (nothing heard for ${silentMs} ms); new work goes elsewhere first, movable requests move`,
      );
      this.table.setQuiet(link.peer, true);
      this.requests.quietVia(link.peer);
    },
    onHeardAgain: (link) => {
      if (this.links.get(link.peer) !== link) return;
      this.#log.info(`mesh link ${link.peer} heard again`);
      this.table.setQuiet(link.peer, false);
    },
    onDropped: (reason) => {
      this.counters.framesDropped++;
      meshMetrics.dropped(dropReason(reason));
      this.#log.debug(`dropped a frame ${reason}`);
    },
  };

  #adopt(ws: WebSocket, peer: string, direction: "in" | "out", keys: SessionKeys): Link | undefined {
    if (this.#stopped) {
      ws.terminate();
      return undefined;
    }
    const old = this.links.get(peer);
    if (old?.open) {
      // PROTOCOL §1: the link dialed by the smaller node id wins.
      const dialer = (l: "in" | "out") => (l === "out" ? this.id : peer);
      const keepNew = dialer(direction) < dialer(old.direction);
      if (!keepNew) {
        ws.close(CLOSE.DUPLICATE, "DUPLICATE");
        return undefined;
      }
      old.close(CLOSE.DUPLICATE, "DUPLICATE");
    }
    const link = new Link(
      ws,
      peer,
      direction,
      keys,
      this.#events,
      this.#opts.heartbeatMs,
      this.#opts.silenceMs,
      this.#opts.quietMs,
    );
    this.links.set(peer, link);
    // A fresh link starts heard: a quiet mark left by the link it replaces would otherwise stay.
    this.table.setQuiet(peer, false);
    this.#log.info(`mesh link up: ${peer} (${direction === "out" ? "dialed" : "accepted"})`);
    // Announced now (which updates the own state too), or the own state now and gossip later.
    if (!this.#announcer.fire()) this.#ownLinksChanged();
    this.#keyKnown(peer); // pinned by the handshake
    // Say what this node holds; the newcomer sends back only what it has newer, and this node
    // answers the newcomer's digest the same way (PROTOCOL §5): a relink moves no unchanged state.
    link.send({
      t: "digest",
      known: this.table
        .nodeIds()
        .flatMap((id) => {
          const k = this.table.known(id);
          return k?.proof ? [{ origin: id, seq: k.seq }] : [];
        })
        .slice(0, MAX_DIGEST_ENTRIES),
    });
    return link;
  }

  #refused(reason: string): void {
    this.counters.authFailures++;
    meshMetrics.authFailure(reason);
  }

  #onLinkClosed(link: Link, why: string): void {
    if (this.links.get(link.peer) !== link) return;
    this.links.delete(link.peer);
    this.table.setQuiet(link.peer, false);
    if (this.#stopped) return;
    this.#log.warn(`mesh link down: ${link.peer} (${why})`);
    // Announced now (which updates the own state too), or the own state now and gossip later.
    if (!this.#announcer.fire()) this.#ownLinksChanged();
    this.requests.routesChanged();
  }

  // --- gossip and relay ------------------------------------------------------------------------

  #announce(): void {
    if (this.#stopped) return;
    this.#ownLinksChanged();
    this.#flood(this.#ownGossip(false));
  }

  /**
   * This node's own links in its table at once, so its routes and answers follow the link that
   * just came or went; the gossip saying so may wait for the announcer's gap.
   */
  #ownLinksChanged(): void {
    const links = [...this.links.values()]
      .filter((l) => l.open)
      .map((l) => ({ node: l.peer, rtt: Math.round(l.rtt * 10) / 10 }));
    this.#setOwn(links);
  }

  /** The state this node gossips: its X25519 key rides in it, under its signature (PROTOCOL §6a). */
  #setOwn(links: NodeState["links"]): void {
    this.table.setOwn({ ...this.#opts.state, links, dh: this.#pairKeys.publicKey });
  }

  /** The keys `node` may sign with: pinned or trusted, else learned from its gossip. */
  #keysOf(node: string): readonly string[] | undefined {
    const learned = this.#gossipKeys.learnedOf(node);
    return this.#auth.pins.keysOf(node) ?? (learned ? [learned] : undefined);
  }

  /**
   * A routed frame addressed here: handled only in the name of the node that proved it is its
   * origin (PROTOCOL §6a); held while that node's key is not known yet.
   */
  #atDestination(f: RoutedFrame, via: string): void {
    // Straight from its origin over that origin's own sealed link: authenticated by the link.
    if (via === f.src) {
      this.requests.deliver(f);
      return;
    }
    const verdict = this.#originProof(f);
    if (verdict === true) this.requests.deliver(f);
    else if (verdict !== "unknown") this.#refuseOrigin(f, `from ${via}: ${verdict}`);
    else if (this.#held.hold(f)) this.counters.heldForKey++;
    else this.#refuseOrigin(f, `from ${via}: no key known for the origin and the hold is full`);
  }

  /** Whether a relayed frame's proof is its src's: true, "unknown" (no key yet), or why not. */
  #originProof(f: RoutedFrame): true | "unknown" | string {
    if (f.mac) {
      // The X25519 key src gossips, under its identity key's signature (§5a).
      const state = this.table.stateOf(f.src);
      if (!state) return "unknown";
      if (!state.dh) return "a MAC, but its src publishes no X25519 key";
      const key = this.#pairKeys.keyFor(f.src, state.dh);
      return key && routedMacOk(key, f) ? true : "wrong MAC for its src";
    }
    if (!f.sig) return "no proof of its src";
    const keys = this.#keysOf(f.src);
    if (!keys) return "unknown";
    return routedSignedBy(keys, f) ? true : "not signed by its src";
  }

  #refuseOrigin(f: RoutedFrame, why: string): void {
    this.counters.forgedOrigin++;
    this.#refusals.count("unsigned or forged routed frame", `${f.t} claiming src ${f.src}, ${why}`);
  }

  /** `node`'s key became known (gossip or a handshake): what was held for it is checked now. */
  #keyKnown(node: string): void {
    for (const f of this.#held.take(node)) this.#atDestination(f, "the hold");
  }

  /** This node's current state as a gossip frame, signed by its key (PROTOCOL §5a). */
  #ownGossip(leaving: boolean): FrameOf<"gossip"> {
    const { seq, own } = this.table;
    const proof = signGossip(this.#auth.key, this.id, seq, own, leaving);
    return {
      t: "gossip",
      id: newId(),
      origin: this.id,
      seq,
      ttl: MAX_TTL,
      state: own,
      ...proof,
      ...(leaving ? { leaving } : {}),
    };
  }

  #flood(frame: FrameOf<"gossip">, except?: string): void {
    const plain = encodeFrameBytes(frame); // once, whatever the number of links
    for (const l of this.links.values()) if (l.peer !== except) l.sendEncoded(frame.t, plain);
  }

  /**
   * A new link's digest: each stored state the peer lacks or holds older goes to it, with the
   * signature it arrived with (PROTOCOL §5a: this node cannot sign for another). Answered once
   * per link, so a member cannot make this node send its table again and again.
   */
  #catchUp(link: Link, known: Array<{ origin: string; seq: number }>): void {
    if (this.#caughtUp.has(link)) {
      this.counters.framesDropped++;
      meshMetrics.dropped("digest_repeat");
      return;
    }
    this.#caughtUp.add(link);
    const theirs = new Map(known.map((k) => [k.origin, k.seq]));
    for (const id of this.table.nodeIds()) {
      const k = this.table.known(id);
      if (!k?.proof || id === link.peer || (theirs.get(id) ?? -1) >= k.seq) continue;
      link.send({
        t: "gossip",
        id: newId(),
        origin: id,
        seq: k.seq,
        ttl: MAX_TTL - 1,
        state: k.state,
        ...k.proof,
      });
    }
  }

  #onFrame(link: Link, f: Frame): void {
    if (f.t === "digest") {
      this.#catchUp(link, f.known);
      return;
    }
    if (f.t === "gossip") {
      // A copy of what is stored already (one arrives per link) is dropped before any crypto.
      if (!this.table.isNews(f.origin, f.seq)) {
        this.counters.gossipCopies++;
        return;
      }
      // No member speaks for another: the origin's signature first (PROTOCOL §5a).
      const v = this.#gossipKeys.check(f.origin, f.seq, f.state, f.leaving ?? false, f);
      if (!v.ok) {
        this.counters.gossipForged++;
        this.#refusals.count("forged gossip", `from ${link.peer}: ${v.reason}`);
        return;
      }
      const refusedBefore = this.table.refused;
      if (!this.table.apply(f.origin, f.seq, f.state, f.leaving, { key: f.key, sig: f.sig })) {
        if (this.table.refused !== refusedBefore)
          this.#log.debug(`refused gossip from ${link.peer}: ${this.table.lastRefusal}`);
        return;
      }
      this.counters.gossipNews++;
      // A path may have broken far away: fail requests to, and abort work for, nodes now cut off.
      this.requests.routesChanged();
      if (f.leaving) {
        this.#gossipKeys.forget(f.origin);
        this.#log.info(`node ${f.origin} left the mesh`);
      }
      if (f.ttl > 1) this.#flood({ ...f, ttl: f.ttl - 1 }, link.peer);
      // Its key and a route back are known now: frames that came first are checked (PROTOCOL §6a).
      if (!f.leaving) this.#keyKnown(f.origin);
      return;
    }
    if (!isRouted(f)) {
      this.counters.framesDropped++;
      meshMetrics.dropped("not_routed");
      return;
    }
    // PROTOCOL §6: each routed frame is handled once, whatever path it came by.
    if (!this.#seen.add(f.id)) return;
    if (f.dst === this.id) {
      this.#atDestination(f, link.peer);
      return;
    }
    if (f.ttl <= 1) {
      this.counters.framesDropped++;
      meshMetrics.dropped("ttl");
      return;
    }
    this.counters.relayed++;
    meshMetrics.relayed();
    // Only the ttl changes: a chunk's data goes on as the bytes it came as (frames.ts relayed).
    if (!this.route(relayed(f, f.ttl - 1)) && f.t === "req") {
      this.route({
        t: "res",
        id: newId(),
        src: this.id,
        dst: f.src,
        ttl: MAX_TTL,
        re: f.id,
        ok: false,
        error: { code: "UNREACHABLE", message: `${this.id} has no route to ${f.dst}` },
      });
    }
  }
}
