import { createHash, createPublicKey, type KeyObject, randomBytes, randomInt, verify } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
import { formatAddress, HOSTNAME, isNodeId, parseAddress } from "./src/address.ts";
import {
  MAX_DATA_BYTES,
  MAX_JUSTIFICATION,
  type NodeView,
  type QueueItem,
  type RegisterRequest,
  type RendezvousErrorCode,
  registrationMessage,
} from "./src/wire.ts";

/**
 * The rendezvous of the Pilot stand-in: what the real registry/beacon pair does for the daemons,
 * as plain HTTP. The mock Agent Registry mounts `router` at `/_pilot`, and a daemon started with
 * `-registry host:port` talks to `http://host:port/_pilot/...`. State is in memory.
 *
 *   POST /challenge                     -> { nonce }  (single use, 60 s)
 *   POST /register                      { public_key, nonce, signature, hostname?, node_id?,
 *                                         endpoint?, listen_port?, email?, trusted? }
 *                                       -> { node_id, address, hostname, public_key, endpoint, token }
 *   GET  /nodes/:ref                    ref = hostname, decimal node id or address -> NodeView
 *   POST /handshakes                    { to, justification? } -> { status: "sent"|"approved", peer }
 *   POST /handshakes/:from/approve      -> { status: "approved", peer, approved_at }
 *   POST /handshakes/:from/reject       { reason? } -> { status: "rejected" }
 *   DELETE /trust/:peer                 -> { status: "untrusted" }
 *   POST /messages                      { to, type: "text"|"json", data } -> { message_id, ack: true }
 *   GET  /queue?after=N                 -> { items: QueueItem[] } (oldest 100 with seq > N)
 *
 * Registration proves the key: the node signs `pilot-register\n<nonce>\n<public_key>` with its
 * ed25519 key (public key and signature base64). A key seen before gets its node id back; an
 * unknown key may ask for the id from its identity file (a restarted rendezvous forgets, daemons
 * do not) and gets it when free; otherwise ids are random in [0x10000, 0xFFFFFFFF), so callers
 * must read both hex groups of an address. Registration returns a bearer token (rotated on every
 * registration) that every other call carries; the token alone names the caller, so no node can
 * read another's queue or act for it. A 401 tells the daemon to register again.
 *
 * Trust is mutual: each node claims the peers it trusts; data flows only when both claim each
 * other. Approve sets both claims; untrust clears both. `trusted` at registration re-asserts the
 * node's trust.json, minus peers that are known here and no longer claim it (they untrusted it
 * while it was away). A handshake to a node that already asked the caller approves at once.
 *
 * Each node has one queue of messages and trust events, in order. `GET /queue?after=N` first drops
 * what the caller acknowledged (seq <= N): delivery is at-least-once and the daemon dedups by
 * message id. Bounds: 16 KB bodies (8 MB for /messages, data <= 1 MiB), 1000 queued items or
 * 16 MiB per node, 10 000 nodes, 1000 open challenges. A hostname belongs to one node; another
 * key may take it over once its holder has not called in for 10 s.
 * Errors are `{ error: { code, message } }` (codes in src/wire.ts).
 */

const CHALLENGE_TTL_MS = 60_000;
const MAX_CHALLENGES = 1_000;
const MAX_NODES = 10_000;
const MAX_QUEUE_ITEMS = 1_000;
const MAX_QUEUE_BYTES = 16 * 1024 * 1024;
const QUEUE_BATCH = 100;
const HOSTNAME_LIVE_MS = 10_000;
const MIN_NODE_ID = 0x10000;
const MAX_NODE_ID = 0xffffffff;

interface NodeRec {
  node_id: number;
  public_key: string;
  hostname: string;
  endpoint: string | null;
  listen_port: number;
  token: string;
  last_seen: number;
  queue: Array<{ item: QueueItem; size: number }>;
  queueBytes: number;
  seq: number;
  claims: Set<number>;
  pendingFrom: Map<number, { justification: string; received_at: string }>;
}

export interface Rendezvous {
  router: express.Router;
  shutdown(): void;
  nodes(): Array<{ node_id: number; hostname: string; public_key: string }>;
  /** Test hook: while down, every call answers 503, as a rendezvous that went away. */
  setAvailable(up: boolean): void;
}

type ItemBody = QueueItem extends infer T ? (T extends QueueItem ? Omit<T, "seq"> : never) : never;

function fail(res: Response, status: number, code: RendezvousErrorCode, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** The ed25519 key in a base64 raw 32-byte string, or undefined. */
function publicKeyOf(b64: unknown): KeyObject | undefined {
  if (typeof b64 !== "string" || b64.length > 64) return undefined;
  const raw = Buffer.from(b64, "base64");
  if (raw.length !== 32 || raw.toString("base64") !== b64) return undefined;
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
    format: "jwk",
  });
}

/** The real daemon's name for a node without one: `pilot-` + 4 bytes of SHA-256(public key). */
const defaultHostname = (publicKey: string) =>
  `pilot-${createHash("sha256").update(Buffer.from(publicKey, "base64")).digest("hex").slice(0, 8)}`;

export function createRendezvous(): Rendezvous {
  const byId = new Map<number, NodeRec>();
  const byKey = new Map<string, number>();
  const byToken = new Map<string, number>();
  const challenges = new Map<string, number>();
  let available = true;
  let closed = false;

  const view = (n: NodeRec): NodeView => ({
    node_id: n.node_id,
    address: formatAddress(n.node_id),
    hostname: n.hostname,
    public_key: n.public_key,
    endpoint: n.endpoint,
  });
  const trusts = (a: NodeRec, b: NodeRec) => a.claims.has(b.node_id) && b.claims.has(a.node_id);
  /** Messages and handshakes are what others push at a node, so only they meet the bounds. */
  const enqueue = (to: NodeRec, body: ItemBody, bounded = true): boolean => {
    const item = { ...body, seq: ++to.seq } as QueueItem;
    const size = JSON.stringify(item).length;
    if (bounded && (to.queue.length >= MAX_QUEUE_ITEMS || to.queueBytes + size > MAX_QUEUE_BYTES)) {
      to.seq--;
      return false;
    }
    to.queue.push({ item, size });
    to.queueBytes += size;
    return true;
  };
  const approve = (approver: NodeRec, requester: NodeRec): string => {
    approver.pendingFrom.delete(requester.node_id);
    requester.pendingFrom.delete(approver.node_id);
    approver.claims.add(requester.node_id);
    requester.claims.add(approver.node_id);
    const approved_at = new Date().toISOString();
    enqueue(requester, { kind: "trusted", peer: view(approver), approved_at }, false);
    return approved_at;
  };
  const lookup = (ref: string): NodeRec | undefined => {
    if (/^\d+$/.test(ref)) return byId.get(Number(ref));
    const addr = parseAddress(ref);
    if (addr) return byId.get(addr.nodeId);
    for (const n of byId.values()) if (n.hostname === ref) return n;
    return undefined;
  };

  const router = express.Router();
  router.use((_req, res, next) =>
    available && !closed ? next() : fail(res, 503, "unavailable", "the rendezvous is not available"),
  );
  const small = express.json({ limit: "16kb" });
  const large = express.json({ limit: "8mb" });

  // The bearer token names the caller; every route but /challenge and /register needs one.
  const auth = (req: Request, res: Response, next: NextFunction) => {
    const header = req.get("authorization") ?? "";
    const id = header.startsWith("Bearer ") ? byToken.get(header.slice(7)) : undefined;
    const me = id === undefined ? undefined : byId.get(id);
    if (!me) return fail(res, 401, "unauthorized", "unknown or rotated token; register again");
    me.last_seen = Date.now();
    res.locals.me = me;
    next();
  };
  const caller = (res: Response) => res.locals.me as NodeRec;

  router.post("/challenge", (_req, res) => {
    const now = Date.now();
    for (const [nonce, exp] of challenges) if (exp < now) challenges.delete(nonce);
    // The oldest open challenge makes room: a flood of them cannot grow the map.
    while (challenges.size >= MAX_CHALLENGES) challenges.delete(challenges.keys().next().value as string);
    const nonce = randomBytes(16).toString("base64url");
    challenges.set(nonce, now + CHALLENGE_TTL_MS);
    res.json({ nonce });
  });

  router.post("/register", small, (req, res) => {
    const b = (req.body ?? {}) as Partial<RegisterRequest>;
    const key = publicKeyOf(b.public_key);
    if (!key || typeof b.nonce !== "string" || typeof b.signature !== "string")
      return fail(
        res,
        400,
        "invalid_request",
        "public_key (base64 ed25519), nonce and signature are required",
      );
    const pk = b.public_key as string;
    const exp = challenges.get(b.nonce);
    challenges.delete(b.nonce);
    if (!exp || exp < Date.now()) return fail(res, 401, "unauthorized", "unknown or expired nonce");
    if (!verify(null, registrationMessage(b.nonce, pk), key, Buffer.from(b.signature, "base64")))
      return fail(res, 401, "unauthorized", "signature does not match public_key");
    if (b.hostname !== undefined && (typeof b.hostname !== "string" || !HOSTNAME.test(b.hostname)))
      return fail(res, 400, "invalid_request", `hostname ${JSON.stringify(b.hostname)} is not valid`);
    if (b.endpoint != null && (typeof b.endpoint !== "string" || b.endpoint.length > 64))
      return fail(res, 400, "invalid_request", "endpoint must be a host:port string");
    const listenPort = b.listen_port ?? 0;
    if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535)
      return fail(res, 400, "invalid_request", "listen_port must be 0-65535");
    if (b.trusted !== undefined && (!Array.isArray(b.trusted) || b.trusted.length > MAX_NODES))
      return fail(res, 400, "invalid_request", `trusted must be an array of at most ${MAX_NODES} node ids`);

    let id = byKey.get(pk);
    if (id === undefined) {
      if (byId.size >= MAX_NODES) return fail(res, 503, "unavailable", "the node table is full");
      const asked = b.node_id;
      if (isNodeId(asked) && asked >= MIN_NODE_ID && asked < MAX_NODE_ID && !byId.has(asked)) id = asked;
      else {
        do id = randomInt(MIN_NODE_ID, MAX_NODE_ID);
        while (byId.has(id));
      }
    }
    const hostname = b.hostname ?? defaultHostname(pk);
    const holder = [...byId.values()].find((n) => n.hostname === hostname && n.node_id !== id);
    if (holder && Date.now() - holder.last_seen < HOSTNAME_LIVE_MS)
      return fail(res, 409, "hostname_taken", `hostname ${hostname} belongs to live node ${holder.node_id}`);
    if (holder) holder.hostname = defaultHostname(holder.public_key);

    let rec = byId.get(id);
    if (!rec) {
      rec = {
        node_id: id,
        public_key: pk,
        hostname,
        endpoint: null,
        listen_port: 0,
        token: "",
        last_seen: 0,
        queue: [],
        queueBytes: 0,
        seq: 0,
        claims: new Set(),
        pendingFrom: new Map(),
      };
      byId.set(id, rec);
      byKey.set(pk, id);
    }
    const me = rec;
    byToken.delete(me.token);
    me.token = randomBytes(24).toString("base64url");
    byToken.set(me.token, id);
    Object.assign(me, {
      hostname,
      endpoint: b.endpoint ?? null,
      listen_port: listenPort,
      last_seen: Date.now(),
    });
    if (b.trusted)
      me.claims = new Set(
        b.trusted.filter(isNodeId).filter((peer) => {
          const other = byId.get(peer);
          return !other || other.claims.has(me.node_id);
        }),
      );
    res.json({ ...view(me), token: me.token });
  });

  router.get("/nodes/:ref", auth, (req, res) => {
    const n = lookup(String(req.params.ref));
    if (!n) return fail(res, 404, "not_found", `no node ${req.params.ref}`);
    res.json(view(n));
  });

  router.post("/handshakes", auth, small, (req, res) => {
    const me = caller(res);
    const { to, justification = "" } = req.body ?? {};
    if (typeof justification !== "string" || justification.length > MAX_JUSTIFICATION)
      return fail(res, 400, "invalid_request", `justification must be a string of <= ${MAX_JUSTIFICATION}`);
    const peer = isNodeId(to) ? byId.get(to) : undefined;
    if (!peer) return fail(res, 404, "not_found", `no node ${to}`);
    if (peer === me) return fail(res, 400, "invalid_request", "a node cannot handshake itself");
    if (trusts(me, peer)) return fail(res, 409, "already_exists", `already trusted by ${peer.node_id}`);
    if (me.pendingFrom.has(peer.node_id))
      return res.json({ status: "approved", peer: view(peer), approved_at: approve(me, peer) });
    const prior = peer.pendingFrom.get(me.node_id);
    const received_at = new Date().toISOString();
    if (prior?.justification !== justification) {
      if (!enqueue(peer, { kind: "handshake", from: view(me), justification, received_at }))
        return fail(res, 429, "queue_full", `the queue of node ${peer.node_id} is full`);
      peer.pendingFrom.set(me.node_id, { justification, received_at });
    }
    res.json({ status: "sent", peer: view(peer) });
  });

  router.post("/handshakes/:from/approve", auth, (req, res) => {
    const me = caller(res);
    const from = byId.get(Number(req.params.from));
    if (!from || !me.pendingFrom.has(from.node_id))
      return fail(res, 404, "not_found", `no pending handshake from ${req.params.from}`);
    res.json({ status: "approved", peer: view(from), approved_at: approve(me, from) });
  });

  router.post("/handshakes/:from/reject", auth, small, (req, res) => {
    const me = caller(res);
    const from = byId.get(Number(req.params.from));
    if (!from || !me.pendingFrom.delete(from.node_id))
      return fail(res, 404, "not_found", `no pending handshake from ${req.params.from}`);
    const reason = typeof req.body?.reason === "string" ? req.body.reason.slice(0, MAX_JUSTIFICATION) : "";
    enqueue(from, { kind: "rejected", peer_id: me.node_id, reason }, false);
    res.json({ status: "rejected" });
  });

  router.delete("/trust/:peer", auth, (req, res) => {
    const me = caller(res);
    const peer = byId.get(Number(req.params.peer));
    const had = !!peer && (me.claims.delete(peer.node_id) || peer.claims.has(me.node_id));
    if (!peer || !had) return fail(res, 404, "not_found", `no trust with ${req.params.peer}`);
    peer.claims.delete(me.node_id);
    me.pendingFrom.delete(peer.node_id);
    peer.pendingFrom.delete(me.node_id);
    enqueue(peer, { kind: "untrusted", peer_id: me.node_id }, false);
    res.json({ status: "untrusted" });
  });

  router.post("/messages", auth, large, (req, res) => {
    const me = caller(res);
    const { to, type, data } = req.body ?? {};
    if ((type !== "text" && type !== "json") || typeof data !== "string")
      return fail(res, 400, "invalid_request", 'type ("text" or "json") and data (string) are required');
    if (Buffer.byteLength(data) > MAX_DATA_BYTES)
      return fail(res, 413, "too_large", `data is larger than ${MAX_DATA_BYTES} bytes`);
    if (type === "json")
      try {
        JSON.parse(data);
      } catch {
        return fail(res, 400, "invalid_request", "type json needs data that is valid JSON");
      }
    const peer = isNodeId(to) ? byId.get(to) : undefined;
    if (!peer) return fail(res, 404, "not_found", `no node ${to}`);
    if (!trusts(me, peer)) return fail(res, 403, "not_trusted", `no mutual trust with node ${peer.node_id}`);
    const id = `${Date.now().toString(36).padStart(9, "0")}-${randomBytes(6).toString("hex")}`;
    const sent_at = new Date().toISOString();
    if (!enqueue(peer, { kind: "message", id, from: view(me), type, data, sent_at }))
      return fail(res, 429, "queue_full", `the queue of node ${peer.node_id} is full`);
    res.json({ message_id: id, ack: true });
  });

  router.get("/queue", auth, (req, res) => {
    const me = caller(res);
    const after = Number(req.query.after ?? 0);
    if (!Number.isSafeInteger(after) || after < 0)
      return fail(res, 400, "invalid_request", "after must be a non-negative integer");
    while (me.queue.length && (me.queue[0]?.item.seq as number) <= after)
      me.queueBytes -= (me.queue.shift() as { size: number }).size;
    res.json({ items: me.queue.slice(0, QUEUE_BATCH).map((q) => q.item) });
  });

  // Body-parser failures (too large, not JSON) in the same error shape as everything else.
  router.use(
    (err: { type?: string; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (err.type === "entity.too.large") return fail(res, 413, "too_large", "request body too large");
      fail(res, 400, "invalid_request", err.message ?? "bad request");
    },
  );

  return {
    router,
    shutdown() {
      closed = true;
      byId.clear();
      byKey.clear();
      byToken.clear();
      challenges.clear();
    },
    nodes: () =>
      [...byId.values()].map((n) => ({ node_id: n.node_id, hostname: n.hostname, public_key: n.public_key })),
    setAvailable(up) {
      available = up;
    },
  };
}
