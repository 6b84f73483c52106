/**
 * Shapes shared by the rendezvous (`../rendezvous.ts`, where the protocol is documented) and the
 * daemon's client of it, so the two cannot drift apart.
 */

/** Mounted here on the registry's HTTP server; the daemon derives it from `-registry host:port`. */
export const RENDEZVOUS_PREFIX = "/_pilot";

/** What a node signs to prove it holds the key it registers (nonce from `POST /challenge`). */
export const registrationMessage = (nonce: string, publicKey: string) =>
  Buffer.from(`pilot-register\n${nonce}\n${publicKey}`, "utf8");

/** Message data is bounded end to end (pilotctl, daemon, rendezvous) at 1 MiB of UTF-8. */
export const MAX_DATA_BYTES = 1024 * 1024;
export const MAX_JUSTIFICATION = 1024;

export interface NodeView {
  node_id: number;
  address: string;
  hostname: string;
  public_key: string;
  endpoint: string | null;
}

export interface RegisterRequest {
  public_key: string;
  nonce: string;
  signature: string;
  hostname?: string;
  node_id?: number;
  endpoint?: string | null;
  listen_port?: number;
  email?: string;
  /** Node ids this node trusts (its trust.json), so trust survives a restarted rendezvous. */
  trusted?: number[];
}

export interface RegisterResponse extends NodeView {
  token: string;
}

/** One entry of a node's queue, in the order the rendezvous accepted them. */
export type QueueItem =
  | {
      seq: number;
      kind: "message";
      id: string;
      from: NodeView;
      type: "text" | "json";
      data: string;
      sent_at: string;
    }
  | { seq: number; kind: "handshake"; from: NodeView; justification: string; received_at: string }
  | { seq: number; kind: "trusted"; peer: NodeView; approved_at: string }
  | { seq: number; kind: "rejected"; peer_id: number; reason: string }
  | { seq: number; kind: "untrusted"; peer_id: number };

/** Error bodies: `{ error: { code, message } }`, codes below. */
export type RendezvousErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "not_found"
  | "already_exists"
  | "hostname_taken"
  | "not_trusted"
  | "too_large"
  | "queue_full"
  | "unavailable";
