import { isBundleError } from "@openclaw-bundle/shared";
import { agentRegistryError } from "./errors.ts";
import type { Peer, PeerDirectory } from "./peers.ts";
import { parseAddress } from "./pilot/address.ts";
import type { Pilotctl } from "./pilot/pilotctl.ts";
import type { RegistryClient } from "./registry-client.ts";
import { contentId, decodeMessage, type WireMessage } from "./wire.ts";

/**
 * The two ways agents reach each other — Pilot P2P through the local daemon, and the registry's
 * HTTP relay — behind one interface, so the inbox loop, the replies and the tool do not care
 * which carried a message. Both honour one trust model: messages flow only between agents that
 * approved each other's handshake.
 */

export type TransportKind = "pilot" | "relay";

export interface Inbound {
  transport: TransportKind;
  /** Dedup key, stable across polls and restarts. */
  key: string;
  message: WireMessage;
  from: Peer;
}

export interface PendingHandshake {
  transport: TransportKind;
  key: string;
  from: Peer;
  justification: string;
}

export interface Transport {
  readonly kind: TransportKind;
  ready(): boolean;
  /** Whether this transport can address the peer at all (a node id, an installation id). */
  canReach(peer: Peer): boolean;
  receive(): Promise<Inbound[]>;
  /** Removes what has been processed; `done` says which keys have been. */
  settle(done: (key: string) => boolean): Promise<void>;
  /** Sends one encoded body; AGENT_REGISTRY_ERR_NOT_TRUSTED when the peer has not approved us. */
  send(peer: Peer, body: string): Promise<void>;
  handshake(peer: Peer, introduction: string): Promise<void>;
  trusts(peer: Peer): Promise<boolean>;
  pending(): Promise<PendingHandshake[]>;
  approve(peer: Peer): Promise<void>;
  reject(peer: Peer, reason?: string): Promise<void>;
  untrust(peer: Peer): Promise<void>;
}

const notTrusted = (peer: Peer, how: string) =>
  agentRegistryError(
    "NOT_TRUSTED",
    `${peer.hostname} has not approved a trust handshake with this agent (${how}); send one with agent_network handshake, or contact, which sends it for you`,
  );

export class PilotTransport implements Transport {
  readonly kind = "pilot" as const;
  private readonly ctl: () => Pilotctl | undefined;
  private readonly isReady: () => boolean;
  private readonly peers: PeerDirectory;
  constructor(ctl: () => Pilotctl | undefined, isReady: () => boolean, peers: PeerDirectory) {
    this.ctl = ctl;
    this.isReady = isReady;
    this.peers = peers;
  }

  ready(): boolean {
    return this.isReady() && this.ctl() !== undefined;
  }
  canReach(peer: Peer): boolean {
    return peer.nodeId !== undefined;
  }
  #ctl(): Pilotctl {
    const c = this.ctl();
    if (!c || !this.isReady()) throw agentRegistryError("PILOT_DOWN", "the Pilot daemon is not running");
    return c;
  }
  #id(peer: Peer): string {
    if (peer.nodeId === undefined)
      throw agentRegistryError("NO_NODE_ID", `${peer.hostname} has no Pilot node id in the registry`);
    return String(peer.nodeId);
  }

  async receive(): Promise<Inbound[]> {
    const out: Inbound[] = [];
    for (const m of await this.#ctl().inbox()) {
      const key = `pilot:${contentId(m.from, m.received_at, m.data)}`;
      let nodeId: number | undefined;
      try {
        nodeId = parseAddress(m.from).nodeId;
      } catch {}
      const from =
        nodeId === undefined
          ? { hostname: `pilot-${m.from}`, known: false }
          : await this.peers.byNodeId(nodeId, `pilot-${m.from}`);
      out.push({ transport: "pilot", key, message: decodeMessage(m.data, key), from });
    }
    return out;
  }

  /** Pilot clears its whole inbox at once: only when everything in it now has been processed. */
  async settle(done: (key: string) => boolean): Promise<void> {
    const ctl = this.#ctl();
    const now = await ctl.inbox();
    if (now.length === 0) return;
    if (now.every((m) => done(`pilot:${contentId(m.from, m.received_at, m.data)}`))) await ctl.clearInbox();
  }

  async send(peer: Peer, body: string): Promise<void> {
    const ctl = this.#ctl();
    try {
      await ctl.sendMessage(this.#id(peer), body, "json");
    } catch (err) {
      if (isBundleError(err, "PILOT_ERR_CONNECTION_FAILED") && !(await this.trusts(peer)))
        throw notTrusted(peer, "Pilot");
      throw err;
    }
  }
  async handshake(peer: Peer, introduction: string): Promise<void> {
    await this.#ctl().handshake(this.#id(peer), introduction);
  }
  async trusts(peer: Peer): Promise<boolean> {
    return (await this.#ctl().trusted()).some((t) => t.node_id === peer.nodeId);
  }
  async pending(): Promise<PendingHandshake[]> {
    const out: PendingHandshake[] = [];
    for (const p of await this.#ctl().pending()) {
      const from = await this.peers.byNodeId(p.node_id, `pilot-node-${p.node_id}`);
      out.push({
        transport: "pilot",
        key: `pilot-hs:${p.node_id}:${p.received_at}`,
        from,
        justification: p.justification ?? "",
      });
    }
    return out;
  }
  async approve(peer: Peer): Promise<void> {
    await this.#ctl().approve(this.#id(peer));
  }
  async reject(peer: Peer, reason?: string): Promise<void> {
    await this.#ctl().reject(this.#id(peer), reason);
  }
  async untrust(peer: Peer): Promise<void> {
    await this.#ctl().untrust(this.#id(peer));
  }
}

/**
 * The relay's inbox/ack and trust routes are this project's assumptions (no Agent Registry server
 * is public; README "Agent Registry routes"): a registry that answers them 404 does not have them.
 * Then the relay still sends, and what cannot be received is said, not retried as an error.
 */
const is404 = (err: unknown) => isBundleError(err) && err.details?.status === 404;

export class RelayTransport implements Transport {
  readonly kind = "relay" as const;
  /** Why messages sent to this agent over the relay cannot be read; undefined while they can. */
  receiveUnavailable: string | undefined;
  /** Why trust requests over the relay cannot be read; undefined while they can. */
  trustUnavailable: string | undefined;
  #lastBatch: string[] = [];
  private readonly client: RegistryClient;
  private readonly me: { installationId: string; hostname: string };
  private readonly peers: PeerDirectory;
  constructor(
    client: RegistryClient,
    me: { installationId: string; hostname: string },
    peers: PeerDirectory,
  ) {
    this.client = client;
    this.me = me;
    this.peers = peers;
  }

  ready(): boolean {
    return true;
  }
  canReach(peer: Peer): boolean {
    return peer.installationId !== undefined;
  }
  #id(peer: Peer): string {
    if (!peer.installationId)
      throw agentRegistryError(
        "NO_INSTALLATION_ID",
        `${peer.hostname} has no installation id in the registry`,
      );
    return peer.installationId;
  }

  async receive(): Promise<Inbound[]> {
    let batch: Awaited<ReturnType<RegistryClient["relayInbox"]>>;
    try {
      batch = await this.client.relayInbox(this.me.installationId);
      this.receiveUnavailable = undefined;
    } catch (err) {
      if (!is404(err)) throw err;
      this.receiveUnavailable =
        "the registry answered 404 to GET /api/v1/agents/messages/inbox/{installation_id} (a route this project assumes): relay messages to this agent cannot be received; sending still works";
      this.#lastBatch = [];
      return [];
    }
    this.#lastBatch = batch.map((m) => m.message_id);
    const out: Inbound[] = [];
    for (const m of batch) {
      const key = `relay:${m.message_id}`;
      const from = await this.peers.byInstallation(m.from_installation_id, m.from_hostname);
      out.push({ transport: "relay", key, message: decodeMessage(m.body, key), from });
    }
    return out;
  }
  async settle(done: (key: string) => boolean): Promise<void> {
    const ids = this.#lastBatch.filter((id) => done(`relay:${id}`));
    if (ids.length) await this.client.relayAck(this.me.installationId, ids);
  }
  async send(peer: Peer, body: string): Promise<void> {
    try {
      await this.client.relaySend({
        from_installation_id: this.me.installationId,
        from_hostname: this.me.hostname,
        to_installation_id: this.#id(peer),
        body,
      });
    } catch (err) {
      if (isBundleError(err) && err.details?.status === 403) throw notTrusted(peer, "registry relay");
      throw err;
    }
  }
  async handshake(peer: Peer, introduction: string): Promise<void> {
    await this.client.trustRequest(this.me.installationId, this.#id(peer), introduction);
  }
  async trusts(peer: Peer): Promise<boolean> {
    return (await this.client.trusted(this.me.installationId)).includes(this.#id(peer));
  }
  async pending(): Promise<PendingHandshake[]> {
    const out: PendingHandshake[] = [];
    let list: Awaited<ReturnType<RegistryClient["trustPending"]>>;
    try {
      list = await this.client.trustPending(this.me.installationId);
      this.trustUnavailable = undefined;
    } catch (err) {
      if (!is404(err)) throw err;
      this.trustUnavailable =
        "the registry answered 404 to GET /api/v1/trust/pending/{installation_id} (a route this project assumes): trust requests over the relay cannot be received";
      return [];
    }
    for (const p of list) {
      const from = await this.peers.byInstallation(p.from_id, "");
      out.push({
        transport: "relay",
        key: `relay-hs:${p.from_id}:${p.created_at ?? ""}`,
        from,
        justification: p.introduction,
      });
    }
    return out;
  }
  async approve(peer: Peer): Promise<void> {
    await this.client.trustApprove(this.#id(peer), this.me.installationId);
  }
  async reject(peer: Peer): Promise<void> {
    await this.client.trustReject(this.#id(peer), this.me.installationId);
  }
  async untrust(peer: Peer): Promise<void> {
    await this.client.trustRevoke(this.me.installationId, this.#id(peer));
  }
}
