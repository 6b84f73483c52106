import fs from "node:fs";
import path from "node:path";
import { ensurePrivateDir, readJson, writeJsonAtomic } from "./files.ts";
import { rfc3339, saveInboxMessage } from "./inbox.ts";

/**
 * The daemon's persistent state under `~/.pilot`: `trust.json` (peers with mutual trust),
 * `pending.json` (handshake requests waiting for approve/reject) and `inbox/` (inbox.ts: one
 * JSON file per received message, its name ending in the rendezvous' message id so a re-delivery
 * after a crash is written once; pilotctl reads and clears the folder itself). Kept in memory and written through on every change, so what pilotctl reads and what a
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
}

export class PilotState {
  readonly dir: string;
  private trusted: TrustedPeer[];
  private pendingList: PendingRequest[];

  constructor(dir: string) {
    this.dir = dir;
    ensurePrivateDir(dir);
    fs.chmodSync(dir, 0o700);
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
    const { id, type, ...rest } = msg;
    const upper = type === "json" ? "JSON" : "TEXT";
    return saveInboxMessage(path.dirname(this.dir), id, { ...rest, type: upper, received_at: rfc3339() });
  }
}
