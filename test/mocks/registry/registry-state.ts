import { randomUUID } from "node:crypto";

/**
 * The Agent Registry's state (EXTERNAL-APIS.md section 2), apart from HTTP: agent records with
 * their last heartbeat, the trust handshake between installations, and the HTTP relay inboxes.
 * The clock is injectable so online/offline can be tested without waiting.
 */

/** Three missed 60 s heartbeats: the registry then treats the agent as offline. */
export const DEFAULT_OFFLINE_AFTER_MS = 180_000;
/** The most messages one inbox call returns; the rest wait for an ack. */
export const INBOX_PAGE = 100;

export interface AgentRecord {
  id: string;
  hostname: string;
  installation_id: string | null;
  pilot_node_id: number | null;
  pilot_address: string | null;
  display_name: string | null;
  description: string | null;
  capabilities: string[] | null;
  last_seen: string;
  created_at: string;
  updated_at: string;
}

/** What a registration may carry; a key that is absent leaves the stored value as it was. */
export interface AgentInput {
  hostname: string;
  installation_id?: string | null;
  pilot_node_id?: number | null;
  pilot_address?: string | null;
  display_name?: string | null;
  description?: string | null;
  capabilities?: string[] | null;
}

export interface RelayMessage {
  message_id: string;
  from_installation_id: string;
  from_hostname: string;
  to_installation_id: string;
  body: string;
  created_at: string;
}

export interface TrustRequest {
  from_id: string;
  to_id: string;
  introduction: string;
  created_at: string;
}

/** A refusal the API turns into `{ detail }` with this status. */
export interface Refusal {
  status: number;
  detail: string;
}

const OPTIONAL_FIELDS = [
  "installation_id",
  "pilot_node_id",
  "pilot_address",
  "display_name",
  "description",
  "capabilities",
] as const;

// Trust is mutual, so a pair is stored once under its sorted key.
const pairKey = (a: string, b: string) => (a < b ? `${a}\n${b}` : `${b}\n${a}`);
const edgeKey = (from: string, to: string) => `${from}\n${to}`;

export class RegistryState {
  readonly agents = new Map<string, AgentRecord>();
  /** Epoch ms of each agent's last heartbeat or registration, by agent id. */
  readonly seenAt = new Map<string, number>();
  readonly inboxes = new Map<string, RelayMessage[]>();
  readonly pending = new Map<string, TrustRequest>();
  readonly trusted = new Set<string>();
  /** `blocker\nblocked` edges: the blocked installation's requests to the blocker are refused. */
  readonly blocked = new Set<string>();
  readonly offlineAfterMs: number;
  readonly #now: () => number;

  constructor(opts: { offlineAfterMs?: number; now?: () => number } = {}) {
    this.offlineAfterMs = opts.offlineAfterMs ?? DEFAULT_OFFLINE_AFTER_MS;
    this.#now = opts.now ?? Date.now;
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }

  isOnline(id: string): boolean {
    const seen = this.seenAt.get(id);
    return seen !== undefined && this.#now() - seen <= this.offlineAfterMs;
  }

  /**
   * Creates (201) or updates (200) the agent: the same installation_id when one is given, else
   * the same hostname. A hostname held by another installation is a conflict (409).
   */
  register(input: AgentInput): { status: 200 | 201; record: AgentRecord } | Refusal {
    const all = [...this.agents.values()];
    const inst = input.installation_id ?? null;
    const byHost = all.find((a) => a.hostname === input.hostname);
    let existing = inst === null ? byHost : all.find((a) => a.installation_id === inst);
    // A record registered without an installation id is claimed by the first one that names it.
    if (!existing && byHost && byHost.installation_id === null) existing = byHost;
    if (byHost && byHost !== existing)
      return { status: 409, detail: `Hostname '${input.hostname}' is already registered by another agent` };
    const now = this.#iso();
    if (existing) {
      existing.hostname = input.hostname;
      for (const k of OPTIONAL_FIELDS) if (input[k] !== undefined) Object.assign(existing, { [k]: input[k] });
      existing.updated_at = now;
      existing.last_seen = now;
      this.seenAt.set(existing.id, this.#now());
      return { status: 200, record: { ...existing } };
    }
    const record: AgentRecord = {
      id: randomUUID(),
      hostname: input.hostname,
      installation_id: inst,
      pilot_node_id: input.pilot_node_id ?? null,
      pilot_address: input.pilot_address ?? null,
      display_name: input.display_name ?? null,
      description: input.description ?? null,
      capabilities: input.capabilities ?? null,
      last_seen: now,
      created_at: now,
      updated_at: now,
    };
    this.agents.set(record.id, record);
    this.seenAt.set(record.id, this.#now());
    return { status: 201, record: { ...record } };
  }

  deregister(id: string): boolean {
    this.seenAt.delete(id);
    return this.agents.delete(id);
  }

  /** The new last_seen, or undefined when the registry does not know (or forgot) the agent. */
  heartbeat(id: string): string | undefined {
    const a = this.agents.get(id);
    if (!a) return undefined;
    a.last_seen = this.#iso();
    this.seenAt.set(id, this.#now());
    return a.last_seen;
  }

  get(id: string): AgentRecord | undefined {
    const a = this.agents.get(id);
    return a && { ...a };
  }

  list(pilotNodeId?: number): AgentRecord[] {
    return [...this.agents.values()]
      .filter((a) => pilotNodeId === undefined || a.pilot_node_id === pilotNodeId)
      .map((a) => ({ ...a }));
  }

  /** Online agents only, in registration order; `total` counts matches before the limit. */
  search(q: string | undefined, capabilities: string[], limit: number) {
    const needle = q?.toLowerCase() ?? "";
    const want = capabilities.map((c) => c.toLowerCase());
    const hits = [...this.agents.values()].filter((a) => {
      if (!this.isOnline(a.id)) return false;
      const caps = (a.capabilities ?? []).map((c) => c.toLowerCase());
      if (!want.every((c) => caps.includes(c))) return false;
      if (!needle) return true;
      return [a.hostname, a.display_name ?? "", a.description ?? "", ...caps].some((f) =>
        f.toLowerCase().includes(needle),
      );
    });
    return { agents: hits.slice(0, limit).map((a) => ({ ...a })), total: hits.length };
  }

  /** The online agent with this hostname; an offline one is as good as unknown. */
  byHostname(hostname: string): AgentRecord | undefined {
    const a = [...this.agents.values()].find((x) => x.hostname === hostname);
    return a && this.isOnline(a.id) ? { ...a } : undefined;
  }

  /** Drops an agent as if the registry lost it; the id dropped, if any. */
  forget(by: { id?: string; hostname?: string }): string | undefined {
    const a = [...this.agents.values()].find((x) => x.id === by.id || x.hostname === by.hostname);
    if (a) this.deregister(a.id);
    return a?.id;
  }

  /** Everything registered, offline agents included, for the control routes. */
  snapshot(): Array<AgentRecord & { online: boolean }> {
    return [...this.agents.values()].map((a) => ({ ...a, online: this.isOnline(a.id) }));
  }

  /** An installation trusts itself; two others only after a request was approved. */
  trusts(a: string, b: string): boolean {
    return a === b || this.trusted.has(pairKey(a, b));
  }

  send(m: Omit<RelayMessage, "message_id" | "created_at">): RelayMessage | Refusal {
    if (![...this.agents.values()].some((a) => a.installation_id === m.to_installation_id))
      return { status: 404, detail: "Recipient not registered" };
    if (!this.trusts(m.from_installation_id, m.to_installation_id))
      return { status: 403, detail: "Sender and recipient do not trust each other" };
    const msg: RelayMessage = { message_id: randomUUID(), ...m, created_at: this.#iso() };
    const box = this.inboxes.get(m.to_installation_id) ?? [];
    box.push(msg);
    this.inboxes.set(m.to_installation_id, box);
    return msg;
  }

  inbox(installationId: string): RelayMessage[] {
    return (this.inboxes.get(installationId) ?? []).slice(0, INBOX_PAGE);
  }

  /** Removes only messages addressed to this installation; how many went. */
  ack(installationId: string, messageIds: string[]): number {
    const box = this.inboxes.get(installationId) ?? [];
    const ids = new Set(messageIds);
    const kept = box.filter((m) => !ids.has(m.message_id));
    this.inboxes.set(installationId, kept);
    return box.length - kept.length;
  }

  requestTrust(from: string, to: string, introduction: string): "pending" | "trusted" | Refusal {
    if (from === to) return { status: 400, detail: "Cannot request trust with yourself" };
    if (this.blocked.has(edgeKey(to, from))) return { status: 403, detail: "Blocked by the recipient" };
    // Asking someone for trust lifts one's own block on them.
    this.blocked.delete(edgeKey(from, to));
    if (this.trusts(from, to)) return "trusted";
    const prior = this.pending.get(edgeKey(from, to));
    this.pending.set(edgeKey(from, to), {
      from_id: from,
      to_id: to,
      introduction,
      created_at: prior?.created_at ?? this.#iso(),
    });
    return "pending";
  }

  /** Requests addressed to this installation, oldest first. */
  pendingFor(installationId: string): TrustRequest[] {
    return [...this.pending.values()].filter((p) => p.to_id === installationId);
  }

  /** `to` approves `from`'s request: trust becomes mutual, crossing requests are settled too. */
  approve(from: string, to: string): boolean {
    if (!this.pending.delete(edgeKey(from, to))) return false;
    this.pending.delete(edgeKey(to, from));
    this.trusted.add(pairKey(from, to));
    return true;
  }

  reject(from: string, to: string): boolean {
    return this.pending.delete(edgeKey(from, to));
  }

  /** `to` blocks `from`: no more requests from it, and any trust between them ends. */
  block(from: string, to: string): void {
    this.blocked.add(edgeKey(to, from));
    this.pending.delete(edgeKey(from, to));
    this.trusted.delete(pairKey(from, to));
  }

  revoke(from: string, to: string): void {
    this.trusted.delete(pairKey(from, to));
  }

  trustedWith(installationId: string): string[] {
    const out: string[] = [];
    for (const key of this.trusted) {
      const [a, b] = key.split("\n") as [string, string];
      if (a === installationId) out.push(b);
      else if (b === installationId) out.push(a);
    }
    return out;
  }

  reset(): void {
    this.agents.clear();
    this.seenAt.clear();
    this.inboxes.clear();
    this.pending.clear();
    this.trusted.clear();
    this.blocked.clear();
  }
}
