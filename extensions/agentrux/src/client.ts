import { randomUUID } from "node:crypto";
import { Backoff, errorFactory, errorMessage, singleFlight, sleep } from "@openclaw-bundle/shared";
import { z } from "zod";
import type { Generation } from "./generation.ts";
import {
  type Position,
  type Publish,
  type PullQuery,
  parsePage,
  publishBody,
  pullPath,
  startOf,
  streamRequest,
  type TopicEvent,
  topicPath,
  ttlExpired,
} from "./wire.ts";

export type { Position, TopicEvent } from "./wire.ts";

/**
 * The AgenTrux HTTP client (EXTERNAL-APIS.md section 1): tokens in memory only, one single-flight
 * gate for acquiring them, a 401 clears the cached token only if it is still the one that failed
 * (compare-and-clear), a dead refresh token is dropped for `/auth/token`, and 5xx or network
 * failures are retried a bounded number of times with backoff. A call re-acquires a token at most
 * once: when the fresh token is refused too, the call fails and further acquisitions wait out a
 * growing delay (a broker that refuses every token costs one token call per delay, not three per
 * call). A publish carries an `Idempotency-Key` kept across its retries, so a retry after a 5xx
 * whose request the broker had already stored is answered with the same event, not a second one.
 */

export const agentruxError = errorFactory("AGENTRUX_ERR");
const MAX_ATTEMPTS = 4;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** The seed API finds a topic's newest event only by paging through it: bounded. */
const MAX_HEAD_PAGES = 1000;

const tokenAnswer = z.object({
  access_token: z.string().min(10).max(8192),
  // Both optional, as the real client allows: without a refresh token the next one comes from
  // /auth/token.
  refresh_token: z.string().min(1).max(1024).optional(),
  expires_at: z.string().max(64).optional(),
  /** The live service's /oauth/token answers seconds to live instead. */
  expires_in: z
    .number()
    .int()
    .min(1)
    .max(366 * 86_400)
    .optional(),
});
/** Sent on every call: the live service's edge refuses requests without a User-Agent. */
export const USER_AGENT = "openclaw-bundle-agentrux/0.1.0";
/** A token this close to its expiry is replaced before use rather than sent to earn a 401. */
const EXPIRY_MARGIN_MS = 30_000;

interface ClientOptions {
  baseUrl: string;
  /**
   * `seed`: tokens from `/auth/token` (JSON, script_id) with `/auth/refresh`; `live`: tokens from
   * `/oauth/token` (form, client_credentials with client_id), no refresh token (generation.ts).
   */
  generation?: Generation;
  scriptId?: string;
  clientId?: string;
  clientSecret: string;
  /** Delays between retries (ms); tests shorten them. */
  backoff?: Backoff;
  /** Delays before a new token after a fresh one was refused (ms); tests shorten them. */
  authBackoff?: Backoff;
}

export class AgentruxClient {
  readonly #o: ClientOptions;
  #access: string | undefined;
  /** When #access stops being valid (ms since epoch), when the broker said. */
  #accessUntil = Number.POSITIVE_INFINITY;
  #refresh: string | undefined;
  readonly #acquire: () => Promise<string>;
  readonly #authBackoff: Backoff;
  /** No token is acquired before this time (ms since epoch): the last fresh one was refused. */
  #authBlockedUntil = 0;
  /** Token endpoint calls made, for status and tests. */
  tokenCalls = 0;

  constructor(o: ClientOptions) {
    const id = o.generation === "live" ? o.clientId : o.scriptId;
    if (!id)
      throw agentruxError(
        "CONFIG",
        `the ${o.generation ?? "seed"} API needs ${o.generation === "live" ? "a client_id" : "a script_id"} in the credentials`,
      );
    this.#o = { ...o, baseUrl: o.baseUrl.replace(/\/+$/, "") };
    this.#acquire = singleFlight(() => this.#fetchToken());
    this.#authBackoff = o.authBackoff ?? new Backoff({ initialMs: 2000, maxMs: 120_000 });
  }

  /**
   * Forgets `token` after the broker refused it (compare-and-clear: a token someone else has
   * replaced it with meanwhile stays). The SSE stream calls this on its own 401.
   */
  dropToken(token: string): void {
    if (this.#access === token) this.#access = undefined;
  }

  async #authCall(
    path: string,
    body: Record<string, string>,
    form = false,
  ): Promise<z.infer<typeof tokenAnswer> | number> {
    this.tokenCalls++;
    const res = await fetch(`${this.#o.baseUrl}${path}`, {
      method: "POST",
      headers: {
        "user-agent": USER_AGENT,
        "content-type": form ? "application/x-www-form-urlencoded" : "application/json",
      },
      body: form ? new URLSearchParams(body).toString() : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return res.status;
    }
    const parsed = tokenAnswer.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw agentruxError("BAD_RESPONSE", `${path} answered with an unexpected body`);
    return parsed.data;
  }

  async #fetchToken(): Promise<string> {
    if (this.#o.generation === "live") {
      const r = await this.#authCall(
        "/oauth/token",
        {
          grant_type: "client_credentials",
          client_id: this.#o.clientId as string,
          client_secret: this.#o.clientSecret,
        },
        true,
      );
      if (typeof r === "number")
        throw agentruxError(
          r >= 500 ? "UNAVAILABLE" : "UNAUTHORIZED",
          `the broker refused the client's credentials (${r})`,
        );
      return this.#keep(r);
    }
    if (this.#refresh) {
      const r = await this.#authCall("/auth/refresh", { refresh_token: this.#refresh });
      this.#refresh = undefined; // single use, whatever happened
      if (typeof r !== "number") return this.#keep(r);
      if (r >= 500) throw agentruxError("UNAVAILABLE", `token refresh failed with ${r}`);
    }
    const r = await this.#authCall("/auth/token", {
      script_id: this.#o.scriptId as string,
      client_secret: this.#o.clientSecret,
    });
    if (typeof r === "number")
      throw agentruxError(
        r >= 500 ? "UNAVAILABLE" : "UNAUTHORIZED",
        `the broker refused the script's credentials (${r})`,
      );
    return this.#keep(r);
  }

  #keep(t: z.infer<typeof tokenAnswer>): string {
    this.#access = t.access_token;
    this.#refresh = t.refresh_token;
    const at = t.expires_at ? Date.parse(t.expires_at) : Number.NaN;
    this.#accessUntil = t.expires_in
      ? Date.now() + t.expires_in * 1000
      : Number.isFinite(at)
        ? at
        : Number.POSITIVE_INFINITY;
    return t.access_token;
  }

  async token(): Promise<string> {
    if (this.#access && Date.now() < this.#accessUntil - EXPIRY_MARGIN_MS) return this.#access;
    this.#access = undefined;
    const wait = this.#authBlockedUntil - Date.now();
    if (wait > 0)
      throw agentruxError(
        "UNAUTHORIZED",
        `the broker refused a fresh access token; next attempt in ${Math.ceil(wait / 1000)} s`,
      );
    return this.#acquire();
  }

  /** A fresh token was refused: the next acquisition waits a growing delay. */
  #refusedFresh(): void {
    this.#authBlockedUntil = Date.now() + this.#authBackoff.next();
  }

  /** One API call with auth, compare-and-clear on 401 and bounded retries on 5xx or no answer. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
  ): Promise<unknown> {
    const backoff = this.#o.backoff ?? new Backoff({ initialMs: 500, maxMs: 8000 });
    let last = "";
    let reacquired = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const cached = this.#access;
      const token = await this.token();
      let res: Response;
      try {
        res = await fetch(`${this.#o.baseUrl}${path}`, {
          method,
          headers: {
            ...extraHeaders,
            "user-agent": USER_AGENT,
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: signal ?? AbortSignal.timeout(30_000),
        });
      } catch (err) {
        if (signal?.aborted) throw agentruxError("CANCELLED", `${method} ${path} cancelled`);
        last = `no answer (${errorMessage(err)})`;
        await sleep(backoff.next());
        continue;
      }
      if (res.status === 401) {
        this.dropToken(token);
        // A token acquired for this very call (none was cached) or a second 401: not a stale
        // token but a refusal; retrying would only burn token calls.
        if (reacquired || cached === undefined) {
          this.#refusedFresh();
          throw agentruxError(
            "UNAUTHORIZED",
            `${method} ${path}: the broker refused a fresh access token (401)`,
          );
        }
        reacquired = true;
        last = "401";
        continue;
      }
      this.#authBackoff.reset();
      this.#authBlockedUntil = 0;
      const text = (await res.text()).slice(0, MAX_RESPONSE_BYTES);
      if (res.status >= 500) {
        last = String(res.status);
        await sleep(backoff.next());
        continue;
      }
      if (!res.ok) throw refusal(method, path, res.status, text);
      try {
        return text ? JSON.parse(text) : undefined;
      } catch {
        throw agentruxError("BAD_RESPONSE", `${method} ${path} answered with something that is not JSON`);
      }
    }
    throw agentruxError(
      "UNAVAILABLE",
      `${method} ${path} failed after ${MAX_ATTEMPTS} attempts (last: ${last})`,
    );
  }

  /** The API generation this client speaks. */
  get generation(): Generation {
    return this.#o.generation ?? "seed";
  }

  /** Before the topic's first event. */
  get start(): Position {
    return startOf(this.generation);
  }

  /** One logical publish: its retries share one idempotency key, so it lands once. */
  async publish(topic: string, e: Publish): Promise<string> {
    const g = this.generation;
    const r = (await this.call("POST", `${topicPath(g, topic)}/events`, publishBody(g, e), undefined, {
      "idempotency-key": `idk_${randomUUID()}`,
    })) as { event_id?: unknown };
    if (typeof r?.event_id !== "string")
      throw agentruxError("BAD_RESPONSE", "publish answered without an event_id");
    return r.event_id;
  }

  /**
   * Events after `after`, oldest first. A live cursor that aged out of the topic's retention
   * throws AGENTRUX_ERR_CURSOR_EXPIRED (details.oldest: the oldest retained event id or null).
   */
  async read(
    topic: string,
    after: Position,
    limit = 20,
    o: { type?: string; excludeSelf?: boolean } = {},
  ): Promise<TopicEvent[]> {
    return this.#pull(topic, { after, limit, ...o });
  }

  /**
   * The position after the topic's newest event (its start when it has none); with `excludeSelf`
   * (live) the newest of the others' events, as the 1.1.0 plugin skips to the newest at start.
   */
  async head(topic: string, o: { excludeSelf?: boolean } = {}): Promise<Position> {
    if (this.generation === "live") {
      const [newest] = await this.#pull(topic, { limit: 1, newest: true, excludeSelf: o.excludeSelf });
      return newest?.position ?? this.start;
    }
    let after: Position = 0;
    for (let pages = 0; pages < MAX_HEAD_PAGES; pages++) {
      const page = await this.read(topic, after, 100);
      if (page.length === 0) return after;
      after = page[page.length - 1]?.position ?? after;
    }
    throw agentruxError(
      "UNAVAILABLE",
      `${topic} holds more than ${MAX_HEAD_PAGES * 100} events after ${after}`,
    );
  }

  async #pull(topic: string, q: PullQuery): Promise<TopicEvent[]> {
    const events = parsePage(this.generation, await this.call("GET", pullPath(this.generation, topic, q)));
    if (!events)
      throw agentruxError(
        "BAD_RESPONSE",
        `events page of ${topic} did not match the ${this.generation} contract`,
      );
    return events;
  }

  /** The SSE hint stream's URL and headers, resuming after `after`. */
  streamRequest(
    topic: string,
    after: Position | undefined,
  ): { url: string; headers: Record<string, string> } {
    const r = streamRequest(this.generation, topic, after);
    return { url: `${this.#o.baseUrl}${r.path}`, headers: r.headers };
  }
}

/** Parses a JSON text, or undefined. */
function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The error for a 4xx: seed answers `{error: {code, message}}`, the live service (FastAPI)
 * `{detail: {error, message, ...}}` or `{detail: "..."}`; a live cursor past retention is its own code.
 */
function refusal(method: string, path: string, status: number, text: string): Error {
  const body = jsonOf(text) as { error?: unknown; detail?: unknown } | undefined;
  const expired = ttlExpired(status, body);
  if (expired)
    return agentruxError("CURSOR_EXPIRED", `${method} ${path}: the cursor is past the topic's retention`, {
      details: { oldest: expired.oldest },
    });
  const e = (
    typeof body?.error === "object" ? body.error : typeof body?.detail === "object" ? body.detail : {}
  ) as {
    code?: unknown;
    error?: unknown;
    message?: unknown;
  } | null;
  const code = String(e?.code ?? e?.error ?? "").slice(0, 64);
  const message = String(e?.message ?? (typeof body?.detail === "string" ? body.detail : "")).slice(0, 300);
  return agentruxError(
    status === 403 ? "FORBIDDEN" : status === 404 ? "NOT_FOUND" : "REQUEST",
    `${method} ${path}: ${status} ${code} ${message}`.trim(),
  );
}
