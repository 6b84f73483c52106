import { formatAddress, parseTarget } from "./address.ts";
import { PilotError, UNTRUSTED_HINT } from "./errors.ts";
import type { IpcHandler } from "./ipc.ts";
import type { Log } from "./log.ts";
import type { RendezvousClient } from "./rendezvous-client.ts";
import type { PilotState } from "./state.ts";
import { checkMessageData, MAX_JUSTIFICATION, type NodeView } from "./wire.ts";

/**
 * The daemon's answers to pilotctl's sub-commands, by IPC command name. Each returns exactly the
 * `data` of the contract's JSON envelope; failures are PilotErrors carrying the envelope's code.
 * Local state answers what it can (trust, pending, inbox); the rendezvous is asked only for what
 * crosses nodes, and is the authority on trust when both are asked.
 */

export interface DaemonContext {
  state: PilotState;
  client: RendezvousClient;
  startedAt: number;
  endpoint: string | null;
  listenPort: number;
  owner?: string;
  log: Log;
}

const arg = (args: Record<string, unknown>, name: string): string | undefined =>
  typeof args[name] === "string" ? (args[name] as string) : undefined;

function required(args: Record<string, unknown>, name: string, what: string): string {
  const v = arg(args, name);
  if (!v) throw new PilotError("invalid_argument", `${what} is required`);
  return v;
}

function self(ctx: DaemonContext): NodeView {
  if (!ctx.client.self) throw new PilotError("internal", "the daemon is not registered yet");
  return ctx.client.self;
}

/** `<id>` as node id, address or hostname; hostnames known locally are not looked up remotely. */
async function resolve(ctx: DaemonContext, text: string): Promise<number> {
  const t = parseTarget(text);
  if (!t)
    throw new PilotError("invalid_argument", `${JSON.stringify(text)} is not a node id, address or hostname`);
  if (t.kind === "id") return t.nodeId;
  if (t.hostname === self(ctx).hostname) return self(ctx).node_id;
  const local = [...ctx.state.trust(), ...ctx.state.pending()].find((p) => p.hostname === t.hostname);
  if (local) return local.node_id;
  return (await ctx.client.lookup(t.hostname)).node_id;
}

async function resolvePeer(ctx: DaemonContext, text: string, verb: string): Promise<number> {
  const id = await resolve(ctx, text);
  if (id === self(ctx).node_id) throw new PilotError("invalid_argument", `cannot ${verb} this node itself`);
  return id;
}

/** A call to the rendezvous whose 404 only means "nothing there" when local state had something. */
async function tolerate404<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof PilotError && err.code === "not_found") return undefined;
    throw err;
  }
}

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000) || 0;

export function createHandler(ctx: DaemonContext): IpcHandler {
  const { state, client, log } = ctx;
  const handlers: Record<string, (args: Record<string, unknown>) => Promise<unknown>> = {
    // The real `info`'s fields (upstream-captures: info). Traffic goes through the rendezvous, so
    // the counters stay 0; the endpoint is not part of the real answer.
    async info() {
      const me = self(ctx);
      const trusted = state.trust().length;
      return {
        address: me.address,
        authenticated_peers: trusted,
        bytes_recv: 0,
        bytes_sent: 0,
        conn_list: [],
        connections: 0,
        encrypt: true,
        encrypted_peers: trusted,
        hostname: me.hostname,
        identity: true,
        node_id: me.node_id,
        owner: ctx.owner ?? "",
        peer_list: [],
        peers: trusted,
        pkts_recv: 0,
        pkts_sent: 0,
        ports: 5,
        public_key: me.public_key,
        uptime_secs: Math.floor((Date.now() - ctx.startedAt) / 1000),
      };
    },

    async peers(args) {
      const q = arg(args, "search")?.toLowerCase();
      const peers = state
        .trust()
        .filter(
          (p) =>
            !q ||
            p.hostname.toLowerCase().includes(q) ||
            String(p.node_id) === q ||
            formatAddress(p.node_id).toLowerCase() === q,
        )
        .map((p) => ({ node_id: p.node_id, endpoint: p.endpoint, encrypted: true, authenticated: true }));
      // Go prints the empty (nil) slice of the real CLI as null.
      return { peers: peers.length ? peers : null, total: peers.length };
    },

    async "send-message"(args) {
      const target = required(args, "target", "a target (address, hostname or node id)");
      const data = required(args, "data", "--data");
      const type = checkMessageData(data, arg(args, "type"));
      const bytes = Buffer.byteLength(data);
      const id = await resolvePeer(ctx, target, "send to");
      if (!state.isTrusted(id))
        throw new PilotError(
          "connection_failed",
          `node ${id} has not established mutual trust with this node`,
          {
            hint: UNTRUSTED_HINT,
          },
        );
      await client.send(id, type, data);
      log("debug", "message sent", { to: id, type, bytes });
      // The real data-exchange service acknowledges with this text.
      return { target: formatAddress(id), type, bytes, ack: `ACK ${type.toUpperCase()} ${bytes} bytes` };
    },

    // `inbox` is not here: pilotctl reads ~/.pilot/inbox itself (inbox.ts), as the real one does.

    async pending() {
      return {
        pending: state.pending().map(({ node_id, public_key, justification, received_at }) => ({
          node_id,
          public_key,
          justification,
          // The real daemon answers Unix seconds; the state keeps the rendezvous' ISO time.
          received_at: unixSeconds(received_at),
        })),
      };
    },

    async handshake(args) {
      const id = await resolvePeer(ctx, required(args, "target", "a node id"), "handshake");
      const justification = (arg(args, "justification") ?? "").slice(0, MAX_JUSTIFICATION);
      if (state.isTrusted(id)) throw new PilotError("already_exists", `node ${id} is already trusted`);
      const r = await client.handshake(id, justification);
      // The peer had asked us already: the rendezvous made trust mutual at once.
      if (r.status === "approved")
        state.addTrust({ ...pick(r.peer), approved_at: r.approved_at ?? new Date().toISOString() });
      log("info", "handshake sent", { to: id, status: r.status });
      return { status: "sent", node_id: id };
    },

    async approve(args) {
      const id = await resolvePeer(ctx, required(args, "target", "a node id"), "approve");
      const r = await tolerate404(client.approve(id));
      // The real daemon approves nothing, successfully, when nothing is pending from the node.
      if (!r) state.removePending(id);
      else state.addTrust({ ...pick(r.peer), approved_at: r.approved_at });
      log("info", "handshake approved", { peer: id, pending: r !== undefined });
      return { status: "approved", node_id: id };
    },

    async reject(args) {
      const id = await resolvePeer(ctx, required(args, "target", "a node id"), "reject");
      // Like approve, rejecting a node with nothing pending succeeds (the real daemon's answer).
      await tolerate404(client.reject(id, arg(args, "reason") ?? ""));
      state.removePending(id);
      log("info", "handshake rejected", { peer: id });
      return { status: "rejected", node_id: id };
    },

    async untrust(args) {
      const id = await resolvePeer(ctx, required(args, "target", "a node id"), "untrust");
      const r = await tolerate404(client.untrust(id));
      if (!state.removeTrust(id) && !r)
        throw new PilotError(
          "connection_failed",
          `untrust: revoke: daemon: handshake revoke: node ${id} was not trusted`,
        );
      log("info", "trust removed", { peer: id });
      // The real pilotctl prints only the node id, no status.
      return { node_id: id };
    },

    async trust() {
      // The real daemon's fields; trust here is always mutual (the rendezvous pairs both sides).
      return {
        trusted: state.trust().map(({ node_id, public_key, approved_at }) => ({
          approved_at: unixSeconds(approved_at),
          mutual: true,
          network: 0,
          node_id,
          public_key,
        })),
      };
    },
  };

  return async (cmd, args) => {
    const h = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined;
    if (!h) throw new PilotError("invalid_argument", `unknown command ${JSON.stringify(cmd)}`);
    return h(args);
  };
}

/** The fields of a trust.json entry that come from the rendezvous' view of a node. */
export const pick = (n: NodeView) => ({
  node_id: n.node_id,
  hostname: n.hostname,
  public_key: n.public_key,
  endpoint: n.endpoint,
});
