import { timingSafeEqual } from "node:crypto";
import { derefEnv } from "@openclaw-bundle/shared";

/**
 * Who may call the mesh's A2A endpoint: the peers of the host's own A2A channel
 * (`channels.a2a.peers`, written from `A2A_PEERS` and `A2A_PEER_<NAME>_TOKEN`), each with its own
 * bearer token — one list for both A2A doors of a gateway, so a token revoked there is revoked
 * here. Pure: config in, peer name or refusal out; the limits below keep their own counts.
 */

export interface A2aPeerToken {
  name: string;
  token: Buffer;
}

/** The peers with a usable token; `${VAR}` references resolved from the environment. */
export function a2aPeers(hostConfig: unknown, env: NodeJS.ProcessEnv = process.env): A2aPeerToken[] {
  const peers = (hostConfig as { channels?: { a2a?: { peers?: unknown } } } | undefined)?.channels?.a2a
    ?.peers;
  if (!peers || typeof peers !== "object") return [];
  const out: A2aPeerToken[] = [];
  for (const [name, p] of Object.entries(peers as Record<string, unknown>)) {
    const raw = (p as { token?: unknown } | undefined)?.token;
    const token = typeof raw === "string" ? derefEnv(raw, env) : undefined;
    // A reference to an unset variable resolves to nothing: that peer cannot get in.
    if (token && token.length >= 16 && !token.includes("${")) out.push({ name, token: Buffer.from(token) });
  }
  return out;
}

/**
 * The peer whose token the `Authorization: Bearer` header carries, or undefined. Every token is
 * compared, in constant time per token, so the answer's timing says nothing about which peer or
 * how much of a token matched.
 */
export function peerFor(
  authorization: string | undefined,
  peers: readonly A2aPeerToken[],
): string | undefined {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? "");
  const offered = Buffer.from(m?.[1] ?? "");
  let found: string | undefined;
  for (const p of peers) {
    const same = p.token.length === offered.length && timingSafeEqual(p.token, offered);
    if (same && found === undefined) found = p.name;
  }
  return found;
}

/** A sliding one-minute window of requests per peer; 0 turns it off. */
export class RateLimiter {
  readonly #perMinute: number;
  readonly #seen = new Map<string, number[]>();
  readonly #now: () => number;

  constructor(perMinute: number, now: () => number = Date.now) {
    this.#perMinute = perMinute;
    this.#now = now;
  }

  /** Counts a request; false when the peer already made `perMinute` in the last minute. */
  take(peer: string): boolean {
    if (this.#perMinute === 0) return true;
    const now = this.#now();
    const recent = (this.#seen.get(peer) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= this.#perMinute) {
      this.#seen.set(peer, recent);
      return false;
    }
    recent.push(now);
    this.#seen.set(peer, recent);
    return true;
  }
}

/** Requests in flight per peer (a streamed answer counts until its stream ends). */
export class ConcurrencyLimit {
  readonly #max: number;
  readonly #running = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  running(peer: string): number {
    return this.#running.get(peer) ?? 0;
  }

  /** A release function, or undefined when the peer is at its limit. */
  acquire(peer: string): (() => void) | undefined {
    const n = this.running(peer);
    if (n >= this.#max) return undefined;
    this.#running.set(peer, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.running(peer) - 1;
      if (left <= 0) this.#running.delete(peer);
      else this.#running.set(peer, left);
    };
  }
}
