import { randomUUID } from "node:crypto";
import { Backoff, errorFactory, errorMessage, singleFlight, sleep } from "@openclaw-bundle/shared";
import { z } from "zod";
import type { Generation } from "./generation.ts";

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
const eventSchema = z.object({
  event_id: z.string().min(1).max(256),
  sequence_no: z.number().int().min(0),
  type: z.string().max(256),
  payload: z.unknown(),
  correlation_id: z.string().max(256).optional().nullable(),
  reply_topic: z.string().max(256).optional().nullable(),
});
export type TopicEvent = z.infer<typeof eventSchema>;
const page = z.object({ items: z.array(eventSchema).max(1000) });

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
      if (!res.ok) {
        const e = (() => {
          try {
            return (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
          } catch {
            return undefined;
          }
        })();
        throw agentruxError(
          res.status === 403 ? "FORBIDDEN" : "REQUEST",
          `${method} ${path}: ${res.status} ${e?.code ?? ""} ${e?.message ?? ""}`.trim(),
        );
      }
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

  /** One logical publish: its retries share one idempotency key, so it lands once. */
  async publish(
    topic: string,
    e: { type: string; payload: unknown; correlation_id?: string; reply_topic?: string },
  ): Promise<string> {
    const r = (await this.call("POST", `/topics/${encodeURIComponent(topic)}/events`, e, undefined, {
      "idempotency-key": `idk_${randomUUID()}`,
    })) as {
      event_id?: unknown;
    };
    if (typeof r?.event_id !== "string")
      throw agentruxError("BAD_RESPONSE", "publish answered without an event_id");
    return r.event_id;
  }

  async read(topic: string, after: number, limit = 20, type?: string): Promise<TopicEvent[]> {
    const filter = type ? `&type=${encodeURIComponent(type)}` : "";
    const r = page.safeParse(
      await this.call(
        "GET",
        `/topics/${encodeURIComponent(topic)}/events?after_sequence_no=${after}&limit=${limit}${filter}`,
      ),
    );
    if (!r.success) throw agentruxError("BAD_RESPONSE", `events page of ${topic} did not match the contract`);
    return r.data.items;
  }
}

/** Presigned URL of an object on a topic. */
export async function downloadUrl(client: AgentruxClient, topic: string, objectId: string): Promise<string> {
  const r = (await client.call(
    "GET",
    `/topics/${encodeURIComponent(topic)}/payloads/${encodeURIComponent(objectId)}`,
  )) as { download_url?: unknown };
  if (typeof r?.download_url !== "string")
    throw agentruxError("BAD_RESPONSE", "payload lookup answered without a download_url");
  return r.download_url;
}

interface Uploaded {
  object_id: string;
  download_url: string;
}

/** Registers the object on the topic, then PUTs the bytes to the presigned upload URL. */
export async function uploadObject(
  client: AgentruxClient,
  topic: string,
  bytes: Uint8Array,
  filename: string,
  contentType: string,
): Promise<Uploaded> {
  const r = (await client.call("POST", `/topics/${encodeURIComponent(topic)}/payloads`, {
    content_type: contentType,
    filename,
    size: bytes.byteLength,
  })) as { object_id?: unknown; upload_url?: unknown; download_url?: unknown };
  if (typeof r?.object_id !== "string" || typeof r.upload_url !== "string")
    throw agentruxError("BAD_RESPONSE", "payload registration answered without object_id and upload_url");
  const put = await fetch(r.upload_url, {
    method: "PUT",
    headers: { "content-type": contentType },
    body: bytes,
    signal: AbortSignal.timeout(120_000),
  });
  if (!put.ok) throw agentruxError("REQUEST", `upload of ${filename} answered ${put.status}`);
  const url =
    typeof r.download_url === "string" ? r.download_url : await downloadUrl(client, topic, r.object_id);
  return { object_id: r.object_id, download_url: url };
}
