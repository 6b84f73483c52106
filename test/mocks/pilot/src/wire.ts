import { PilotError } from "./errors.ts";

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

/** The checks `send-message` makes of its payload, the same in pilotctl and in the daemon. */
export function checkMessageData(data: string, type: string | undefined): "text" | "json" {
  const t = type ?? "text";
  if (t !== "text" && t !== "json")
    throw new PilotError("invalid_argument", `--type must be text or json (got ${JSON.stringify(t)})`);
  if (t === "json")
    try {
      JSON.parse(data);
    } catch {
      throw new PilotError("invalid_argument", "--type json needs --data that is valid JSON");
    }
  const bytes = Buffer.byteLength(data);
  if (bytes > MAX_DATA_BYTES)
    throw new PilotError("invalid_argument", `--data is ${bytes} bytes; the limit is ${MAX_DATA_BYTES}`);
  return t;
}
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
