import fs from "node:fs";
import path from "node:path";
import { ensurePrivateDir, readJson, writeJsonAtomic } from "./files.ts";

/**
 * The daemon's persistent state under `~/.pilot`: `trust.json` (peers with mutual trust),
 * `pending.json` (handshake requests waiting for approve/reject) and `inbox/` (one JSON file per
 * received message, named by the rendezvous' message id so a re-delivery after a crash is written
 * once). Kept in memory and written through on every change, so what pilotctl reads and what a
 * test finds on disk never disagree.
 */

export interface TrustedPeer {
  node_id: number;
  hostname: string;
  public_key: string;
  endpoint: string | null;
  approved_at: string;
}

export interface PendingRequest {
  node_id: number;
  hostname: string;
  public_key: string;
  justification: string;
  received_at: string;
}

export interface InboxMessage {
  id: string;
  type: "text" | "json";
  from: string;
  data: string;
  bytes: number;
  received_at: string;
}

/** Message ids come from the rendezvous; only this shape may become a file name. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class PilotState {
  readonly dir: string;
  readonly inboxDir: string;
  private trusted: TrustedPeer[];
  private pendingList: PendingRequest[];

  constructor(dir: string) {
    this.dir = dir;
    this.inboxDir = path.join(dir, "inbox");
    ensurePrivateDir(dir);
    fs.chmodSync(dir, 0o700);
    ensurePrivateDir(this.inboxDir);
    this.trusted = readJson<{ trusted?: TrustedPeer[] }>(this.file("trust.json"), {}).trusted ?? [];
    this.pendingList = readJson<{ pending?: PendingRequest[] }>(this.file("pending.json"), {}).pending ?? [];
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  trust(): readonly TrustedPeer[] {
    return this.trusted;
  }

  pending(): readonly PendingRequest[] {
    return this.pendingList;
  }

  isTrusted(nodeId: number): boolean {
    return this.trusted.some((p) => p.node_id === nodeId);
  }

  /** Adds or refreshes a trusted peer, and drops any pending request from it. */
  addTrust(peer: TrustedPeer): void {
    this.trusted = [...this.trusted.filter((p) => p.node_id !== peer.node_id), peer];
    writeJsonAtomic(this.file("trust.json"), { trusted: this.trusted });
    this.removePending(peer.node_id);
  }

  /** True when the peer was trusted. */
  removeTrust(nodeId: number): boolean {
    const before = this.trusted.length;
    this.trusted = this.trusted.filter((p) => p.node_id !== nodeId);
    if (this.trusted.length === before) return false;
    writeJsonAtomic(this.file("trust.json"), { trusted: this.trusted });
    return true;
  }

  /** One request per node: a repeated handshake refreshes the justification. */
  upsertPending(req: PendingRequest): void {
    this.pendingList = [...this.pendingList.filter((p) => p.node_id !== req.node_id), req];
    writeJsonAtomic(this.file("pending.json"), { pending: this.pendingList });
  }

  /** True when there was a request from the node. */
  removePending(nodeId: number): boolean {
    const before = this.pendingList.length;
    this.pendingList = this.pendingList.filter((p) => p.node_id !== nodeId);
    if (this.pendingList.length === before) return false;
    writeJsonAtomic(this.file("pending.json"), { pending: this.pendingList });
    return true;
  }

  /** Writes a message unless it is already there; false for a duplicate or an unusable id. */
  addMessage(msg: InboxMessage): boolean {
    if (!MESSAGE_ID.test(msg.id)) return false;
    const file = path.join(this.inboxDir, `${msg.id}.json`);
    if (fs.existsSync(file)) return false;
    writeJsonAtomic(file, msg);
    return true;
  }

  /** Oldest first; files that are not messages (a stray tmp file) are skipped. */
  messages(): InboxMessage[] {
    const out: InboxMessage[] = [];
    for (const name of fs.readdirSync(this.inboxDir)) {
      if (!name.endsWith(".json")) continue;
      const m = readJson<InboxMessage | null>(path.join(this.inboxDir, name), null);
      if (m && typeof m.data === "string") out.push(m);
    }
    return out.sort((a, b) => a.received_at.localeCompare(b.received_at) || a.id.localeCompare(b.id));
  }

  clearInbox(): number {
    const names = fs.readdirSync(this.inboxDir).filter((n) => n.endsWith(".json"));
    for (const name of names) fs.rmSync(path.join(this.inboxDir, name), { force: true });
    return names.length;
  }
}
