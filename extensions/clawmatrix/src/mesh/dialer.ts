import { Backoff, type Logger } from "@openclaw-bundle/shared";
import WebSocket from "ws";
import { meshMetrics } from "../metrics.ts";
import type { HandshakeAuth } from "../protocol/handshake.ts";
import type { SessionKeys } from "../protocol/session.ts";
import { escapeText, type RefusalLog, reasonKey } from "./admission.ts";
import { dialHandshake, HANDSHAKE_MAX_FRAME_BYTES, type HandshakeError, type Link } from "./link.ts";
import { dialOptions, TlsPinError } from "./tls.ts";

/**
 * PROTOCOL §1, §2a, §3: the links a node dials, one dialer per configured peer: TLS options
 * (pin or CA), the handshake, reconnects with backoff and jitter, and the last error for status.
 */

const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 60_000;

export interface DialerDeps {
  auth: HandshakeAuth;
  handshakeTimeoutMs: number;
  tlsCa?: string;
  log: Logger;
  refusals: RefusalLog;
  stopped(): boolean;
  /** A dial refused by the other side or by its certificate, by a fixed reason. */
  onRefused(reason: string): void;
  /** Adopts the authenticated socket; undefined when it lost to a duplicate. */
  onAuthenticated(ws: WebSocket, peer: string, keys: SessionKeys): Link | undefined;
}

interface Dialer {
  backoff: Backoff;
  timer?: NodeJS.Timeout;
  ws?: WebSocket;
  lastError?: string;
}

export class Dialers {
  readonly #deps: DialerDeps;
  readonly #dialers = new Map<string, Dialer>();

  constructor(deps: DialerDeps) {
    this.#deps = deps;
  }

  /** Each dialed peer and why its last attempt failed, if it did. */
  *peers(): Iterable<[string, string | undefined]> {
    for (const [id, d] of this.#dialers) yield [id, d.lastError];
  }

  dial(peer: string, url: string, pin?: string): void {
    const deps = this.#deps;
    const d: Dialer = this.#dialers.get(peer) ?? {
      backoff: new Backoff({ initialMs: RECONNECT_MIN_MS, maxMs: RECONNECT_MAX_MS, jitter: 0.2 }),
    };
    this.#dialers.set(peer, d);
    if (deps.stopped()) return;
    const how = dialOptions(url, pin, deps.tlsCa);
    if (!how.ok) {
      // A configuration problem: retrying cannot fix it. Said once; the status shows it.
      d.lastError = how.reason;
      deps.log.error(`mesh link to ${peer} not dialed: ${how.reason}`);
      return;
    }
    const ws = new WebSocket(url, {
      ...how.options,
      maxPayload: HANDSHAKE_MAX_FRAME_BYTES,
      handshakeTimeout: deps.handshakeTimeoutMs,
    });
    d.ws = ws;
    const retry = (why: string, quiet = false) => {
      if (deps.stopped() || d.ws !== ws) return;
      d.ws = undefined;
      d.lastError = escapeText(why);
      meshMetrics.reconnect(peer);
      const delay = d.backoff.next();
      if (!quiet)
        deps.log.warn(
          `mesh link to ${peer} (${url}) failed: ${d.lastError}; retrying in ${Math.round(delay / 100) / 10} s`,
        );
      clearTimeout(d.timer);
      d.timer = setTimeout(() => this.dial(peer, url, pin), delay);
      d.timer.unref();
    };
    ws.once("error", (err) => {
      if (err instanceof TlsPinError) deps.onRefused("tls pin mismatch");
      retry(err.message);
    });
    ws.once("open", () => {
      dialHandshake(
        ws,
        deps.auth,
        peer,
        (p, keys) => {
          d.backoff.reset();
          d.lastError = undefined;
          const link = deps.onAuthenticated(ws, p, keys);
          // When the link later drops, dial again.
          ws.once("close", () => retry(`link closed${link ? "" : " (duplicate)"}`));
        },
        deps.handshakeTimeoutMs,
      ).catch((err: HandshakeError) => {
        deps.onRefused(reasonKey(err.message));
        // A refused key repeats on every retry: one summary line per interval, not one per attempt.
        if (err.code === "KEY_REFUSED")
          deps.refusals.count(`${err.code}: ${reasonKey(err.message)}`, err.message);
        retry(`handshake: ${err.message}`, err.code === "KEY_REFUSED");
      });
    });
  }

  /** Stops every dialer; sockets not in `linked` (still handshaking) are destroyed. */
  stop(linked: Set<WebSocket>): void {
    for (const d of this.#dialers.values()) {
      clearTimeout(d.timer);
      if (d.ws && !linked.has(d.ws)) d.ws.terminate();
    }
    this.#dialers.clear();
  }
}
