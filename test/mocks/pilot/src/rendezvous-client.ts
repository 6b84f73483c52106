import { sign } from "node:crypto";
import { PilotError, UNTRUSTED_HINT } from "./errors.ts";
import type { Identity } from "./files.ts";
import {
  type NodeView,
  type QueueItem,
  RENDEZVOUS_PREFIX,
  type RegisterRequest,
  type RegisterResponse,
  registrationMessage,
} from "./wire.ts";

/**
 * The daemon's side of the rendezvous protocol (documented in ../rendezvous.ts): registration by
 * signed challenge, then calls with the bearer token it returned. A 401 (the rendezvous restarted
 * or another daemon with this identity registered since) registers again once and retries, so a
 * rendezvous that went away and came back is picked up without a daemon restart. HTTP failures
 * become the pilotctl error codes here, once.
 */

export const DEFAULT_HTTP_TIMEOUT_MS = 5_000;

export interface RegistrationInfo {
  hostname?: string;
  endpoint: string | null;
  listenPort: number;
  email?: string;
  /** Read at each registration, so the rendezvous relearns the current trust.json. */
  trusted(): number[];
  /** After every (re-)registration: the node id may be new, and the queue's numbering restarts. */
  onRegistered(self: NodeView): void;
}

type Raw = {
  status: number;
  body: { error?: { code?: string; message?: string } } & Record<string, unknown>;
};

function toPilotError(r: Raw): PilotError {
  const code = r.body.error?.code;
  const message = r.body.error?.message ?? `rendezvous answered HTTP ${r.status}`;
  switch (code) {
    case "not_trusted":
      return new PilotError("connection_failed", message, { hint: UNTRUSTED_HINT });
    case "not_found":
      return new PilotError("not_found", message);
    case "already_exists":
    case "hostname_taken":
      return new PilotError("already_exists", message);
    case "invalid_request":
    case "too_large":
      return new PilotError("invalid_argument", message);
    default:
      return new PilotError("connection_failed", message, { hint: "is the rendezvous (-registry) up?" });
  }
}

export class RendezvousClient {
  readonly baseUrl: string;
  private readonly identity: Identity;
  private readonly info: RegistrationInfo;
  private readonly timeoutMs: number;
  private token: string | null = null;
  private inflight: Promise<RegisterResponse> | null = null;
  /** This node as the rendezvous last described it. */
  self: NodeView | null = null;

  constructor(
    hostPort: string,
    identity: Identity,
    info: RegistrationInfo,
    timeoutMs = DEFAULT_HTTP_TIMEOUT_MS,
  ) {
    this.baseUrl = `http://${hostPort}${RENDEZVOUS_PREFIX}`;
    this.identity = identity;
    this.info = info;
    this.timeoutMs = timeoutMs;
  }

  private async raw(method: string, path: string, body?: unknown, token?: string): Promise<Raw> {
    let res: globalThis.Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      if ((err as Error).name === "TimeoutError")
        throw new PilotError(
          "timeout",
          `rendezvous at ${this.baseUrl} did not answer in ${this.timeoutMs} ms`,
        );
      throw new PilotError("connection_failed", `rendezvous at ${this.baseUrl} is unreachable`, {
        hint: "is the rendezvous (-registry) up?",
        cause: err,
      });
    }
    const json = (await res.json().catch(() => ({}))) as Raw["body"];
    return { status: res.status, body: json && typeof json === "object" ? json : {} };
  }

  /** Registers (single flight: concurrent callers share one registration). */
  register(): Promise<RegisterResponse> {
    this.inflight ??= this.doRegister().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async doRegister(): Promise<RegisterResponse> {
    const ch = await this.raw("POST", "/challenge");
    if (ch.status !== 200 || typeof ch.body.nonce !== "string") throw toPilotError(ch);
    const nonce = ch.body.nonce;
    const req: RegisterRequest = {
      public_key: this.identity.publicKey,
      nonce,
      signature: sign(
        null,
        registrationMessage(nonce, this.identity.publicKey),
        this.identity.privateKey,
      ).toString("base64"),
      endpoint: this.info.endpoint,
      listen_port: this.info.listenPort,
      trusted: this.info.trusted(),
      ...(this.info.hostname ? { hostname: this.info.hostname } : {}),
      ...(this.info.email ? { email: this.info.email } : {}),
      ...(this.identity.nodeId !== null ? { node_id: this.identity.nodeId } : {}),
    };
    const r = await this.raw("POST", "/register", req);
    if (r.status !== 200) throw toPilotError(r);
    const reg = r.body as unknown as RegisterResponse;
    this.token = reg.token;
    const { token: _t, ...self } = reg;
    this.self = self;
    this.info.onRegistered(self);
    return reg;
  }

  /** `path` may be a function: it is evaluated again for the retry after a re-registration. */
  private async call<T>(method: string, path: string | (() => string), body?: unknown): Promise<T> {
    const p = () => (typeof path === "string" ? path : path());
    if (!this.token) await this.register();
    let r = await this.raw(method, p(), body, this.token as string);
    if (r.status === 401) {
      await this.register();
      r = await this.raw(method, p(), body, this.token as string);
    }
    if (r.status >= 200 && r.status < 300) return r.body as T;
    throw toPilotError(r);
  }

  lookup(ref: string | number): Promise<NodeView> {
    return this.call("GET", `/nodes/${encodeURIComponent(String(ref))}`);
  }

  handshake(
    to: number,
    justification: string,
  ): Promise<{ status: "sent" | "approved"; peer: NodeView; approved_at?: string }> {
    return this.call("POST", "/handshakes", { to, justification });
  }

  approve(from: number): Promise<{ status: "approved"; peer: NodeView; approved_at: string }> {
    return this.call("POST", `/handshakes/${from}/approve`);
  }

  reject(from: number, reason: string): Promise<{ status: "rejected" }> {
    return this.call("POST", `/handshakes/${from}/reject`, { reason });
  }

  untrust(peer: number): Promise<{ status: "untrusted" }> {
    return this.call("DELETE", `/trust/${peer}`);
  }

  send(to: number, type: "text" | "json", data: string): Promise<{ message_id: string; ack: boolean }> {
    return this.call("POST", "/messages", { to, type, data });
  }

  /**
   * `after` is read when each request is built: a re-registration resets the poller's cursor (a
   * restarted rendezvous numbers from 1 again), and the retry must not acknowledge with the old one.
   */
  queue(after: () => number): Promise<{ items: QueueItem[] }> {
    return this.call("GET", () => `/queue?after=${after()}`);
  }
}
