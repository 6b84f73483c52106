import type { Socket } from "node:net";
import { type Logger, Periodic } from "@openclaw-bundle/shared";

/**
 * PROTOCOL §1 "Limits before authentication": what a stranger can hold on a listening node. Every
 * TCP connection is a pending handshake until it is adopted as a link; pending ones are capped in
 * total and per remote address, and refusals are summed into one log line per interval, so a
 * flood neither pins memory nor floods the log.
 */

/**
 * Room for 1,000 strangers at once (about 20 KB each: 20 MB): a stranger over the cap is cut and
 * comes back at once, and 750 of them doing that 15,000 times a second cost legitimate traffic
 * 7.5x its p99 where 256 held ones cost nothing (bench mesh, strangers); each held one is cut at
 * the handshake deadline anyway.
 */
export const MAX_PENDING_HANDSHAKES = 1024;
export const MAX_PENDING_PER_ADDRESS = 16;
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
const MAX_REFUSAL_REASONS = 32;
const MAX_LOGGED_TEXT = 160;

/**
 * Text from the other side made safe for one log line: control characters (newlines included)
 * escaped, length capped. Attacker-chosen text never starts a forged line.
 */
export function escapeText(text: string, max = MAX_LOGGED_TEXT): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g, (c) =>
    c === "\\" ? "\\\\" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Counts refused connections by reason and logs them as one warn line per interval. */
export class RefusalLog {
  readonly #log: Logger;
  readonly #counts = new Map<string, number>();
  readonly #timer: Periodic;
  readonly #intervalMs: number;
  #last: string | undefined;
  #total = 0;

  constructor(log: Logger, intervalMs = REFUSAL_LOG_INTERVAL_MS) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#timer = new Periodic({ name: "mesh refusal summary", intervalMs }, () => this.flush());
  }

  get total(): number {
    return this.#total;
  }

  start(): void {
    this.#timer.start();
  }

  /** `reason` is a fixed phrase (the key); `detail` may hold remote text and is escaped. */
  count(reason: string, detail?: string): void {
    this.#total++;
    if (this.#counts.has(reason) || this.#counts.size < MAX_REFUSAL_REASONS)
      this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
    else this.#counts.set("other", (this.#counts.get("other") ?? 0) + 1);
    if (detail !== undefined) this.#last = escapeText(detail);
  }

  flush(): void {
    if (this.#counts.size === 0) return;
    const n = [...this.#counts.values()].reduce((a, b) => a + b, 0);
    const by = [...this.#counts].map(([r, c]) => `${r} ${c}`).join(", ");
    this.#log.warn(
      `refused ${n} mesh connection(s) in the last ${this.#intervalMs / 1000} s: ${by}` +
        (this.#last ? ` (last: ${this.#last})` : ""),
    );
    this.#counts.clear();
    this.#last = undefined;
  }

  async stop(): Promise<void> {
    await this.#timer.stop();
    this.flush();
  }
}

export interface AdmissionLimits {
  maxPending: number;
  maxPendingPerAddress: number;
}

/** Pending (not yet authenticated) connections, by remote address. */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #byAddress = new Map<string, number>();
  #pending = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  get pending(): number {
    return this.#pending;
  }

  /**
   * Takes a slot for a new connection, or says why not. The slot is given back once, by the
   * returned release (called on adoption as a link) or when the socket closes, whichever is first.
   */
  admit(socket: Socket): { release: () => void } | { refused: string } {
    const addr = socket.remoteAddress ?? "unknown";
    if (this.#pending >= this.#limits.maxPending) return { refused: "too many pending handshakes" };
    const mine = this.#byAddress.get(addr) ?? 0;
    if (mine >= this.#limits.maxPendingPerAddress)
      return { refused: "too many pending handshakes from one address" };
    this.#pending++;
    this.#byAddress.set(addr, mine + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.#pending--;
      const left = (this.#byAddress.get(addr) ?? 1) - 1;
      if (left <= 0) this.#byAddress.delete(addr);
      else this.#byAddress.set(addr, left);
    };
    socket.once("close", release);
    return { release };
  }
}

/** A refusal message reduced to a fixed phrase for counting: node ids and remote text removed. */
export function reasonKey(message: string): string {
  if (/^the dialer refused/.test(message)) return "refused by the dialer";
  if (/wrong proof/.test(message)) return "wrong proof";
  if (/replayed/.test(message)) return "replayed nonce";
  if (/not done within/.test(message)) return "handshake deadline";
  if (/bad handshake frame/.test(message)) return "bad frame";
  if (/unexpected/.test(message)) return "frame out of order";
  if (/closed during/.test(message)) return "closed during the handshake";
  if (/socket error/.test(message)) return "socket error (e.g. frame too big)";
  if (/speaks v/.test(message)) return "version mismatch";
  if (/presented key|keys are pinned/.test(message)) return "identity key refused";
  if (/identity/.test(message)) return "bad identity signature";
  return "other";
}
