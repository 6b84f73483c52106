import WebSocket from "ws";
import { meshMetrics } from "../metrics.ts";
import {
  decodeFrame,
  encodeFrame,
  encodeFrameBytes,
  type Frame,
  MAX_FRAME_BYTES,
} from "../protocol/frames.ts";
import {
  DialerHandshake,
  HANDSHAKE_TIMEOUT_MS,
  type HandshakeAuth,
  ListenerHandshake,
  type NonceMemory,
  type Step,
} from "../protocol/handshake.ts";
import { FrameOpener, FrameSealer, MAX_PLAINTEXT_BYTES, type SessionKeys } from "../protocol/session.ts";
import { LinkLiveness, PING_INTERVAL_MS } from "./liveness.ts";

/**
 * PROTOCOL §1, §3: one authenticated WebSocket to a peer. The handshake runs the pure machines of
 * protocol/handshake.ts over the socket; after it, every frame is sealed with the session keys
 * (protocol/session.ts) and a frame that fails to open closes the link, the send queue is bounded,
 * and frequent pings measure rtt, call a silent peer quiet after 2 s and dead after 15 s (liveness.ts).
 */

const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** PROTOCOL §1: a message a peer may send before it is authenticated (handshake frames are < 400 B). */
export const HANDSHAKE_MAX_FRAME_BYTES = 4 * 1024;
/** After a refusal, how long the peer gets to read the close frame before the socket is destroyed. */
const CLOSE_GRACE_MS = 500;

export const CLOSE = {
  AUTH_FAILED: 4001,
  VERSION_MISMATCH: 4002,
  KEY_REFUSED: 4003,
  DUPLICATE: 4009,
  LEAVING: 4010,
} as const;

export interface LinkEvents {
  onFrame(link: Link, frame: Frame): void;
  onClose(link: Link, why: string): void;
  onDropped(reason: string): void;
  /** Nothing heard for `silentMs` (liveness.ts QUIET_AFTER_MS); the link stays. */
  onQuiet(link: Link, silentMs: number): void;
  /** A quiet link's peer was heard again. */
  onHeardAgain(link: Link): void;
}

export class Link {
  readonly peer: string;
  readonly ws: WebSocket;
  /** Which side dialed: "out" when this node did. */
  readonly direction: "in" | "out";
  rtt = 0;
  #closed = false;
  /** When this side last sent a frame: a ping is only needed on a link that is otherwise quiet. */
  #lastSent = Number.NEGATIVE_INFINITY;
  readonly #liveness: LinkLiveness;
  readonly #events: LinkEvents;
  readonly #sealer: FrameSealer;
  readonly #opener: FrameOpener;
  /** Frames handed to the socket and not yet written out; who waits for none is called then. */
  #unwritten = 0;
  #writtenWaiters: Array<() => void> = [];

  constructor(
    ws: WebSocket,
    peer: string,
    direction: "in" | "out",
    keys: SessionKeys,
    events: LinkEvents,
    heartbeatMs = PING_INTERVAL_MS,
    silenceMs?: number,
    quietMs?: number,
  ) {
    this.ws = ws;
    this.#sealer = new FrameSealer(keys.send);
    this.#opener = new FrameOpener(keys.receive);
    this.peer = peer;
    this.direction = direction;
    this.#events = events;
    this.#liveness = new LinkLiveness({
      intervalMs: heartbeatMs,
      ...(silenceMs !== undefined ? { silenceMs } : {}),
      ...(quietMs !== undefined ? { quietMs } : {}),
      // Any frame tells the peer this side is alive: pings fill only the quiet intervals.
      ping: () => {
        const now = performance.now();
        if (now - this.#lastSent >= heartbeatMs) this.send({ t: "ping", ts: now });
      },
      onDead: (silent) => this.terminate(`nothing heard for ${silent} ms (peer silent)`),
      onQuiet: (silent) => this.#events.onQuiet(this, silent),
      onHeardAgain: () => this.#events.onHeardAgain(this),
    });
    ws.on("message", (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on("close", (code, reason) =>
      this.#closedBy(`socket closed (${code}${reason.length ? ` ${reason}` : ""})`),
    );
    ws.on("error", (err) => this.#closedBy(`socket error: ${err.message}`));
    this.#liveness.start();
  }

  /** Nothing heard from the peer for a while (liveness.ts): route new work elsewhere first. */
  get quiet(): boolean {
    return this.#liveness.quiet;
  }

  get open(): boolean {
    return !this.#closed && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Seals and queues a frame; a peer that cannot keep up is cut off rather than buffered without
   * bound. A frame the peer would have to refuse (over the size limit) is not sent: false.
   */
  send(frame: Frame): boolean {
    return this.sendEncoded(frame.t, encodeFrameBytes(frame));
  }

  /** As send, for a frame encoded once and sent on several links (a gossip flood). */
  sendEncoded(type: Frame["t"], plain: Buffer): boolean {
    if (!this.open) return false;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.terminate(`send queue over ${MAX_BUFFERED_BYTES} bytes (slow peer)`);
      return false;
    }
    if (plain.length > MAX_PLAINTEXT_BYTES) {
      this.#events.onDropped(`to ${this.peer}: a "${type}" frame of ${plain.length} bytes is over the limit`);
      return false;
    }
    const sealed = this.#sealer.seal(plain);
    this.#lastSent = performance.now();
    meshMetrics.bytes(this.peer, "out", sealed.length);
    this.#unwritten++;
    this.ws.send(sealed, this.#written);
    return true;
  }

  /**
   * Calls `cb` once every frame sent so far is written to the socket (at once when none waits or
   * the link is closed); returns a cancel. Streams merge their pieces until then (coalescer.ts).
   */
  whenWritten(cb: () => void): () => void {
    if (this.#unwritten === 0 || this.#closed) {
      cb();
      return () => {};
    }
    this.#writtenWaiters.push(cb);
    return () => {
      const i = this.#writtenWaiters.indexOf(cb);
      if (i >= 0) this.#writtenWaiters.splice(i, 1);
    };
  }

  // Called by ws for each frame, written or failed (a closed socket fails what it still held).
  readonly #written = (): void => {
    this.#unwritten = Math.max(0, this.#unwritten - 1);
    if (this.#unwritten === 0) this.#wakeWriters();
  };

  #wakeWriters(): void {
    const waiters = this.#writtenWaiters;
    if (waiters.length === 0) return;
    this.#writtenWaiters = [];
    for (const w of waiters) w();
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.ws.close(code, reason.slice(0, 120));
    this.#closedBy(reason);
  }

  terminate(why: string): void {
    this.ws.terminate();
    this.#closedBy(why);
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    meshMetrics.bytes(this.peer, "in", data.length);
    // PROTOCOL §3a: only sealed binary messages exist after the handshake.
    const r = isBinary
      ? this.#opener.open(data)
      : { ok: false as const, fatal: true, reason: "a text (unsealed) message on a sealed link" };
    if (!r.ok) {
      this.#events.onDropped(`from ${this.peer}: ${r.reason}`);
      if (r.fatal) this.terminate(r.reason);
      return;
    }
    this.#liveness.heard();
    const f = r.frame;
    if (f.t === "ping") {
      this.send({ t: "pong", ts: f.ts });
      return;
    }
    if (f.t === "pong") {
      const sample = Math.max(0, performance.now() - f.ts);
      this.rtt = this.rtt === 0 ? sample : this.rtt * 0.7 + sample * 0.3;
      meshMetrics.rtt(this.peer, sample);
      return;
    }
    try {
      this.#events.onFrame(this, f);
    } catch (err) {
      // Whatever a peer sent, handling it must not throw into the socket and down the gateway.
      this.#events.onDropped(
        `from ${this.peer}: a "${f.t}" frame could not be handled (${err instanceof Error ? err.message : String(err)})`,
      );
    }
  }

  #closedBy(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#liveness.stop();
    this.#wakeWriters();
    this.#events.onClose(this, why);
  }
}

export class HandshakeError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Raises the socket's message limit once the peer is authenticated. ws has no public setter; the
 * receiver's field is checked so a ws upgrade that renames it fails loudly here, not silently.
 */
function allowFullFrames(ws: WebSocket): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (typeof receiver?._maxPayload !== "number")
    throw new Error("ws internals changed: cannot raise maxPayload after the handshake");
  receiver._maxPayload = MAX_FRAME_BYTES;
}

/** A refused socket: the close frame goes out, and the socket is destroyed soon after either way. */
function refuse(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
  if (ws.readyState === WebSocket.CLOSED) return;
  // ws would otherwise wait 30 s for the peer's close frame; a stranger must not hold us that long.
  const t = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  t.unref();
  ws.once("close", () => clearTimeout(t));
}

/**
 * Drives a handshake machine over a fresh socket until it is done or fails. `onDone` runs
 * synchronously inside the message event that completed it: the peer's next frame may sit in
 * the same TCP read, and the link must be listening before ws emits it. The deadline destroys
 * the socket outright: a silent peer gets no polite close to ignore.
 */
function drive(
  ws: WebSocket,
  first: Frame | undefined,
  onFrame: (f: Frame) => Step,
  onDone: (peer: string, keys: SessionKeys) => void,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const finish = (err?: HandshakeError, done?: { peer: string; keys: SessionKeys }, destroy = false) => {
      clearTimeout(timer);
      ws.off("message", onMessage);
      ws.off("close", onClose);
      ws.off("error", onError);
      if (err) {
        const code =
          err.code === "VERSION_MISMATCH" || err.code === "KEY_REFUSED" ? CLOSE[err.code] : CLOSE.AUTH_FAILED;
        if (destroy) ws.terminate();
        else refuse(ws, code, err.code);
        reject(err);
      } else {
        const { peer, keys } = done as { peer: string; keys: SessionKeys };
        allowFullFrames(ws);
        onDone(peer, keys);
        resolve(peer);
      }
    };
    const timer = setTimeout(
      () =>
        finish(
          new HandshakeError("AUTH_FAILED", `handshake not done within ${timeoutMs} ms`),
          undefined,
          true,
        ),
      timeoutMs,
    );
    timer.unref();
    const onClose = () => finish(new HandshakeError("AUTH_FAILED", "closed during the handshake"));
    const onError = (err: Error) =>
      finish(new HandshakeError("AUTH_FAILED", `socket error during the handshake: ${err.message}`));
    const onMessage = (data: Buffer, isBinary: boolean) => {
      const r = decodeFrame(data, isBinary);
      if (!r.ok) return finish(new HandshakeError("AUTH_FAILED", `bad handshake frame: ${r.reason}`));
      const step = onFrame(r.frame);
      if (step.kind === "send") ws.send(encodeFrame(step.frame));
      else if (step.kind === "done") {
        if (step.send) ws.send(encodeFrame(step.send));
        finish(undefined, { peer: step.peer, keys: step.keys });
      } else {
        if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(step.send));
        finish(new HandshakeError(step.code, step.message));
      }
    };
    ws.on("message", onMessage);
    ws.on("close", onClose);
    ws.on("error", onError);
    if (first) ws.send(encodeFrame(first));
  });
}

export function acceptHandshake(
  ws: WebSocket,
  auth: HandshakeAuth,
  memory: NonceMemory,
  onDone: (peer: string, keys: SessionKeys) => void,
  timeoutMs = HANDSHAKE_TIMEOUT_MS,
): Promise<string> {
  const machine = new ListenerHandshake(auth, memory);
  return drive(ws, undefined, (f) => machine.onFrame(f), onDone, timeoutMs);
}

export function dialHandshake(
  ws: WebSocket,
  auth: HandshakeAuth,
  expected: string | undefined,
  onDone: (peer: string, keys: SessionKeys) => void,
  timeoutMs = HANDSHAKE_TIMEOUT_MS,
): Promise<string> {
  const machine = new DialerHandshake(auth, expected);
  return drive(ws, machine.hello(), (f) => machine.onFrame(f), onDone, timeoutMs);
}
