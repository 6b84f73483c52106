import type { AgentRecord, RegistryClient } from "./registry-client.ts";

/**
 * Who is behind a Pilot node id or a relay installation id. The registry is asked first (it knows
 * who holds a node id now); what it said last is kept, bounded, for when it cannot be reached.
 */

const PEER_CACHE_SIZE = 1000;

export interface Peer {
  hostname: string;
  installationId?: string;
  nodeId?: number;
  /** False when the registry could not say and the name is made up from the address. */
  known: boolean;
}

function peerOf(r: AgentRecord): Peer {
  return {
    hostname: r.hostname,
    ...(r.installation_id ? { installationId: r.installation_id } : {}),
    ...(typeof r.pilot_node_id === "number" ? { nodeId: r.pilot_node_id } : {}),
    known: true,
  };
}

/** A Map used as an LRU: re-set on every hit, oldest dropped past the bound. */
class Lru<K, V> {
  readonly #m = new Map<K, V>();
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  get(k: K): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    if (this.#m.size > this.capacity) this.#m.delete(this.#m.keys().next().value as K);
  }
  get size(): number {
    return this.#m.size;
  }
}

export class PeerDirectory {
  readonly #byNode: Lru<number, Peer>;
  readonly #byInstallation: Lru<string, Peer>;
  readonly #byHostname: Lru<string, Peer>;
  readonly #registry: RegistryClient;

  constructor(registry: RegistryClient, capacity = PEER_CACHE_SIZE) {
    this.#registry = registry;
    this.#byNode = new Lru(capacity);
    this.#byInstallation = new Lru(capacity);
    this.#byHostname = new Lru(capacity);
  }

  get size(): number {
    return this.#byHostname.size;
  }

  remember(p: Peer): Peer {
    if (!p.known) return p;
    if (p.nodeId !== undefined) this.#byNode.set(p.nodeId, p);
    if (p.installationId) this.#byInstallation.set(p.installationId, p);
    this.#byHostname.set(p.hostname, p);
    return p;
  }

  /** The agent holding a Pilot node id; `fallbackName` when nobody can say. */
  async byNodeId(nodeId: number, fallbackName: string): Promise<Peer> {
    try {
      const [hit] = await this.#registry.listAgents({ pilotNodeId: nodeId });
      if (hit) return this.remember(peerOf(hit));
    } catch {}
    return this.#byNode.get(nodeId) ?? { hostname: fallbackName, nodeId, known: false };
  }

  /**
   * The agent behind a relay installation id. The relay passes on the name the sender claims, so
   * it counts only when the registry holds that name for that same installation.
   */
  async byInstallation(installationId: string, claimedHostname: string): Promise<Peer> {
    try {
      // Without a claimed name (a trust request carries none) the list is searched: rare enough.
      const hit = claimedHostname
        ? await this.#registry.byHostname(claimedHostname)
        : (await this.#registry.listAgents()).find((a) => a.installation_id === installationId);
      if (hit?.installation_id === installationId) return this.remember(peerOf(hit));
    } catch {}
    return (
      this.#byInstallation.get(installationId) ?? {
        hostname: `relay-${installationId}`,
        installationId,
        known: false,
      }
    );
  }

  /** An online agent by hostname, or undefined when the registry says there is none. */
  async byHostname(hostname: string): Promise<Peer | undefined> {
    try {
      const r = await this.#registry.byHostname(hostname);
      return r ? this.remember(peerOf(r)) : undefined;
    } catch (err) {
      const cached = this.#byHostname.get(hostname);
      if (cached) return cached;
      throw err;
    }
  }
}
