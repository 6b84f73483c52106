import { BundleError, errorFactory, type Logger } from "@openclaw-bundle/shared";
import { meshMetrics } from "../metrics.ts";
import {
  chunkBytes,
  chunkOfBytes,
  type FrameOf,
  MAX_TTL,
  type RequestKind,
  type RoutedFrame,
} from "../protocol/frames.ts";
import { encodeChecked, MAX_CHUNK_DATA_BYTES, splitUtf8, utf8Bytes } from "../protocol/sizes.ts";
import { Coalescer } from "./coalescer.ts";
import { newId } from "./ids.ts";
import type { MeshNode } from "./node.ts";

/**
 * PROTOCOL §6-7: requests over the mesh. The caller side keeps one pending entry per request (an
 * idle timer that every chunk resets, cancel on abort); the serving side runs a handler with an
 * AbortSignal that a `cancel` frame or a lost caller trips, within per-peer and global caps.
 */

export const meshError = errorFactory("MESH_ERR");
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
/** Requests served at once, from all callers and from one caller; more are answered OVERLOADED. */
export const MAX_SERVING = 128;
export const MAX_SERVING_PER_PEER = 32;
const MAX_RETRIES = 2;
const RETRYABLE = new Set([
  "MESH_ERR_UNREACHABLE",
  "MESH_ERR_TIMEOUT",
  "MESH_ERR_OVERLOADED",
  "MESH_ERR_PEER_QUIET",
]);
/**
 * Kinds without an effect beyond their answer: retried even when the first try may have started.
 * A tool call, a send or a handoff may have acted already; they are retried only when the error
 * proves they never started (PROTOCOL §6).
 */
const RETRY_AFTER_START = new Set<RequestKind>(["chat"]);

export interface ServingLimits {
  maxServing: number;
  maxServingPerPeer: number;
}

interface HandlerContext {
  src: string;
  signal: AbortSignal;
  /**
   * Streams a piece of the answer; the request then ends with `end` instead of `res`. Bytes (a
   * stream passed on as it came) go out as they are when they are valid UTF-8, so a piece of
   * bytes must hold whole characters (an SSE event does): a cut one is replaced by U+FFFD.
   */
  chunk(data: string | Uint8Array): void;
}
export type Handler = (body: unknown, ctx: HandlerContext) => Promise<unknown>;

interface CallOptions {
  /** Idle timeout: reset by every chunk. */
  timeoutMs?: number;
  /** Each chunk's data as text. */
  onChunk?: (data: string) => void;
  /** Each chunk's data as bytes, as they came (not decoded): instead of onChunk, for a pass-through. */
  onChunkBytes?: (data: Buffer) => void;
  signal?: AbortSignal;
}

interface SendOptions extends CallOptions {
  /** call() has another candidate for this request and it may run twice: a quiet route moves it. */
  movable?: boolean;
}

interface Pending {
  dst: string;
  movable: boolean;
  /** The request never reached a handler: no route here, a relay without a route, OVERLOADED. */
  notStarted?: boolean;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  chunks: number;
  onChunk?: (f: FrameOf<"chunk">) => void;
  resolve(body: unknown): void;
  reject(err: Error): void;
}

/** How a caller takes each chunk: as bytes, as text, or not at all. */
function chunkReader(o: CallOptions): ((f: FrameOf<"chunk">) => void) | undefined {
  const { onChunk, onChunkBytes } = o;
  if (onChunkBytes) return (f) => onChunkBytes(chunkBytes(f));
  if (onChunk) return (f) => onChunk(f.data);
  return undefined;
}

export class Requests {
  readonly #node: MeshNode;
  readonly #handlers: Partial<Record<RequestKind, Handler>>;
  readonly #log: Logger;
  readonly #pending = new Map<string, Pending>();
  readonly #serving = new Map<string, { src: string; abort: AbortController }>();
  readonly #servingBy = new Map<string, number>();
  readonly #limits: ServingLimits;
  /** Errors that prove their request never started (safe to retry whatever the kind). */
  readonly #notStarted = new WeakSet<Error>();

  constructor(
    node: MeshNode,
    handlers: Partial<Record<RequestKind, Handler>>,
    log: Logger,
    limits: ServingLimits = { maxServing: MAX_SERVING, maxServingPerPeer: MAX_SERVING_PER_PEER },
  ) {
    this.#node = node;
    this.#handlers = handlers;
    this.#log = log;
    this.#limits = limits;
  }

  get serving(): number {
    return this.#serving.size;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends to the first candidate; on UNREACHABLE, TIMEOUT or OVERLOADED before any chunk arrived,
   * tries the next one, at most MAX_RETRIES times — for kinds with effects only when the request
   * provably never started. Throws NO_CANDIDATE when the list is empty.
   */
  async call(
    candidates: string[],
    kind: RequestKind,
    body: unknown,
    opts: CallOptions = {},
  ): Promise<{ node: string; body: unknown }> {
    if (candidates.length === 0) throw meshError("NO_CANDIDATE", "no reachable node serves this target");
    let last: unknown;
    const tries = candidates.slice(0, MAX_RETRIES + 1);
    for (const [i, node] of tries.entries()) {
      let streamed = false;
      try {
        const seen = <D>(on: ((d: D) => void) | undefined) =>
          on &&
          ((d: D) => {
            streamed = true;
            on(d);
          });
        const movable = RETRY_AFTER_START.has(kind) && i < tries.length - 1;
        const onChunk = seen(opts.onChunk);
        const onChunkBytes = seen(opts.onChunkBytes);
        return { node, body: await this.send(node, kind, body, { ...opts, onChunk, onChunkBytes, movable }) };
      } catch (err) {
        last = err;
        const code = err instanceof BundleError ? err.code : "";
        const safe = RETRY_AFTER_START.has(kind) || (err instanceof Error && this.#notStarted.has(err));
        if (streamed || !safe || !RETRYABLE.has(code) || opts.signal?.aborted) throw err;
        this.#log.warn(`mesh ${kind} to ${node} failed (${code}); trying the next candidate`);
      }
    }
    throw last;
  }

  /** One request to one node. */
  send(dst: string, kind: RequestKind, body: unknown, opts: SendOptions = {}): Promise<unknown> {
    const id = newId();
    const measured = meshMetrics.request(kind);
    return new Promise((settleOk, settleErr) => {
      const resolve = (b: unknown) => {
        measured("ok");
        settleOk(b);
      };
      const reject = (e: Error) => {
        measured(e instanceof BundleError ? e.code : "error");
        settleErr(e);
      };
      if (opts.signal?.aborted) return reject(meshError("CANCELLED", "cancelled before it was sent"));
      const p: Pending = {
        dst,
        movable: opts.movable ?? false,
        timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        timer: undefined,
        chunks: 0,
        onChunk: chunkReader(opts),
        resolve: (b) => {
          this.#settle(id);
          resolve(b);
        },
        reject: (e) => {
          this.#settle(id);
          if (p.notStarted) this.#notStarted.add(e);
          reject(e);
        },
      };
      const onAbort = () => {
        this.#node.route({ t: "cancel", id: newId(), src: this.#node.id, dst, ttl: MAX_TTL, re: id });
        p.reject(meshError("CANCELLED", `request to ${dst} cancelled by the caller`));
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const settle = p.resolve;
      p.resolve = (b) => {
        opts.signal?.removeEventListener("abort", onAbort);
        settle(b);
      };
      const req: RoutedFrame = { t: "req", id, src: this.#node.id, dst, ttl: MAX_TTL, kind, body };
      // Sized as sent: the proof route() adds comes on top (PROTOCOL §1, §6a).
      const wire = encodeChecked(req, `a ${kind} request`);
      if (!wire.ok) return reject(meshError("TOO_LARGE", wire.why));
      this.#pending.set(id, p);
      this.#arm(id, p);
      if (!this.#node.route(req, wire.plain)) {
        p.notStarted = true;
        p.reject(meshError("UNREACHABLE", `no route to ${dst}`));
      }
    });
  }

  #arm(id: string, p: Pending): void {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      this.#node.route({ t: "cancel", id: newId(), src: this.#node.id, dst: p.dst, ttl: MAX_TTL, re: id });
      p.reject(meshError("TIMEOUT", `no answer from ${p.dst} within ${p.timeoutMs} ms`));
    }, p.timeoutMs);
    p.timer.unref();
  }

  #settle(id: string): void {
    const p = this.#pending.get(id);
    if (p) clearTimeout(p.timer);
    this.#pending.delete(id);
  }

  /**
   * Routes changed (a link went down, or gossip says a path broke): requests whose destination is
   * now unreachable fail at once, and work served for a caller that is now unreachable is
   * aborted — nobody is left to read its answer.
   */
  routesChanged(): void {
    const table = this.#node.table;
    for (const p of [...this.#pending.values()])
      if (!table.route(p.dst)) p.reject(meshError("UNREACHABLE", `${p.dst} became unreachable`));
    for (const s of this.#serving.values()) if (!table.route(s.src)) s.abort.abort();
  }

  /**
   * The link to `peer` went quiet (liveness.ts): requests routed through it that may run twice
   * and have another candidate, and have had no chunk yet, are cancelled there and move on
   * (PEER_QUIET, retried by call()). The rest wait: a quiet peer may only be stalled.
   */
  quietVia(peer: string): void {
    for (const [id, p] of [...this.#pending.entries()]) {
      if (!p.movable || p.chunks > 0 || this.#node.table.route(p.dst)?.via !== peer) continue;
      this.#node.route({ t: "cancel", id: newId(), src: this.#node.id, dst: p.dst, ttl: MAX_TTL, re: id });
      p.reject(meshError("PEER_QUIET", `nothing heard from ${peer} (the way to ${p.dst}) for a while`));
    }
  }

  cancelAll(reason: string): void {
    for (const p of [...this.#pending.values()]) p.reject(meshError("CANCELLED", reason));
    for (const s of this.#serving.values()) s.abort.abort();
    this.#serving.clear();
    this.#servingBy.clear();
  }

  deliver(f: RoutedFrame): void {
    if (f.t === "req") return void this.#serve(f);
    if (f.t === "cancel") {
      this.#serving.get(`${f.src}:${f.re}`)?.abort.abort();
      return;
    }
    const p = this.#pending.get(f.re);
    if (!p) return;
    if (p.dst !== f.src) {
      // Only a relay's "no route further" may answer for the destination (PROTOCOL §6).
      if (f.t === "res" && !f.ok && f.error?.code === "UNREACHABLE") {
        p.notStarted = true;
        p.reject(meshError("UNREACHABLE", `${f.src}: ${f.error.message}`));
      }
      return;
    }
    if (f.t === "res" && !f.ok && f.error?.code === "OVERLOADED") p.notStarted = true;
    if (f.t === "chunk") {
      p.chunks++;
      this.#arm(f.re, p);
      p.onChunk?.(f);
    } else if (f.ok) p.resolve(f.t === "res" ? f.body : undefined);
    else p.reject(meshError(f.error?.code ?? "UPSTREAM", `${f.src}: ${f.error?.message ?? "failed"}`));
  }

  /**
   * Calls `ready` after this tick, once the link toward `dst` has written out what it was given
   * (at once when there is no such link: the next chunk then finds no route, as it would have).
   */
  #whenWritten(dst: string, ready: () => void): () => void {
    let stop: (() => void) | undefined;
    const tick = setImmediate(() => {
      const via = this.#node.table.route(dst)?.via;
      const link = via === undefined ? undefined : this.#node.links.get(via);
      if (link) stop = link.whenWritten(ready);
      else ready();
    });
    return () => {
      clearImmediate(tick);
      stop?.();
    };
  }

  async #serve(f: Extract<RoutedFrame, { t: "req" }>): Promise<void> {
    const key = `${f.src}:${f.id}`;
    const reply = { id: "", src: this.#node.id, dst: f.src, ttl: MAX_TTL, re: f.id };
    const mine = this.#servingBy.get(f.src) ?? 0;
    if (this.#serving.has(key)) return;
    if (this.#serving.size >= this.#limits.maxServing || mine >= this.#limits.maxServingPerPeer) {
      this.#node.counters.overloaded++;
      const which =
        mine >= this.#limits.maxServingPerPeer ? `${mine} from ${f.src}` : `${this.#serving.size}`;
      this.#node.route({
        ...reply,
        t: "res",
        id: newId(),
        ok: false,
        error: { code: "OVERLOADED", message: `${this.#node.id} is serving ${which} requests already` },
      });
      return;
    }
    const abort = new AbortController();
    this.#serving.set(key, { src: f.src, abort });
    this.#servingBy.set(f.src, mine + 1);
    const served = meshMetrics.request(f.kind, "server");
    let n = 0;
    // PROTOCOL §7: pieces that come while the previous chunk is still on its way join one chunk.
    // They are bytes (§3a): a model's stream goes from its socket to the link without a decode.
    const chunks = new Coalescer<Buffer>({
      send: (data) => {
        if (!abort.signal.aborted)
          this.#node.route(chunkOfBytes({ ...reply, t: "chunk", id: newId(), n: n++ }, data));
      },
      whenReady: (ready) => this.#whenWritten(f.src, ready),
      maxSize: MAX_CHUNK_DATA_BYTES,
    });
    const handler = this.#handlers[f.kind];
    try {
      if (!handler) throw meshError("BAD_REQUEST", `${this.#node.id} does not serve "${f.kind}" requests`);
      this.#node.counters.served++;
      const body = await handler(f.body, {
        src: f.src,
        signal: abort.signal,
        // Big streamed data is split so that no chunk is a frame the caller must refuse.
        chunk: (data) => {
          for (const piece of splitUtf8(utf8Bytes(data))) chunks.push(piece);
        },
      });
      chunks.flush(); // the end follows all the data
      if (n > 0) this.#node.route({ ...reply, t: "end", id: newId(), ok: true });
      else {
        const res: RoutedFrame = { ...reply, t: "res", id: newId(), ok: true, body };
        // PROTOCOL §1: an answer the caller would have to refuse becomes an error answer.
        const wire = encodeChecked(res, "the answer");
        if (!wire.ok) throw meshError("TOO_LARGE", wire.why);
        this.#node.route(res, wire.plain);
      }
    } catch (err) {
      const code = err instanceof BundleError ? err.code.replace(/^MESH_ERR_/, "") : "UPSTREAM";
      const message = err instanceof Error ? err.message : String(err);
      if (!abort.signal.aborted) this.#log.warn(`mesh ${f.kind} from ${f.src} failed: ${message}`);
      const error = { code, message: message.slice(0, 2000) };
      chunks.flush(); // what was read before the failure still reaches the caller, before the end
      if (n > 0) this.#node.route({ ...reply, t: "end", id: newId(), ok: false, error });
      else this.#node.route({ ...reply, t: "res", id: newId(), ok: false, error });
    } finally {
      chunks.close();
      served("done");
      if (this.#serving.get(key)?.abort === abort) {
        this.#serving.delete(key);
        const left = (this.#servingBy.get(f.src) ?? 1) - 1;
        if (left > 0) this.#servingBy.set(f.src, left);
        else this.#servingBy.delete(f.src);
      }
    }
  }
}
