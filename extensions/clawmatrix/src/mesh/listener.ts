import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { Socket } from "node:net";
import type { Logger } from "@openclaw-bundle/shared";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";
import type { HandshakeAuth, NonceMemory } from "../protocol/handshake.ts";
import type { SessionKeys } from "../protocol/session.ts";
import { type Admission, type RefusalLog, reasonKey } from "./admission.ts";
import { acceptHandshake, HANDSHAKE_MAX_FRAME_BYTES, type HandshakeError } from "./link.ts";
import type { ListenerTls } from "./tls.ts";

/**
 * PROTOCOL §1, §2a, §3: a node's mesh listener. Plain HTTP or HTTPS of its own (bytes that are
 * not HTTP and slow headers are cut off, not held), every TCP connection a pending-handshake slot
 * (Admission) until the mesh handshake makes it a link, refusals summed into one log line.
 */

export interface ListenerDeps {
  auth: HandshakeAuth;
  nonces: NonceMemory;
  admission: Admission;
  refusals: RefusalLog;
  handshakeTimeoutMs: number;
  tls?: ListenerTls;
  log: Logger;
  /** A connection refused before it became a link, by a fixed reason (counted; logged in the summary). */
  onRefused(reason: string): void;
  onAuthenticated(ws: WebSocket, peer: string, keys: SessionKeys): void;
}

export class MeshListener {
  readonly #deps: ListenerDeps;
  #server: WebSocketServer | undefined;
  #http: Server | undefined;

  constructor(deps: ListenerDeps) {
    this.#deps = deps;
  }

  /** Listens; resolves with the bound port, rejects when the port cannot be had. */
  async start(host: string, port: number): Promise<number> {
    // Our own HTTP server, so bytes that are not HTTP and slow headers are cut off, not held.
    const d = this.#deps;
    const deadline = d.handshakeTimeoutMs;
    // Node checks header/request deadlines every connectionsCheckingInterval (30 s by default).
    const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(426, { "content-type": "text/plain" }).end("a ClawMatrix mesh port: WebSocket only\n");
    };
    const checking = { connectionsCheckingInterval: Math.min(1000, deadline) };
    const tls = d.tls;
    const http: Server = tls
      ? createTlsServer({ ...checking, cert: tls.cert, key: tls.key, handshakeTimeout: deadline }, onRequest)
      : createServer(checking, onRequest);
    http.headersTimeout = deadline;
    http.requestTimeout = deadline;
    http.on("clientError", (_err, socket) => socket.destroy());
    // Every TCP connection holds a pending-handshake slot until it becomes a link or closes. Keyed
    // by the remote address and port: under TLS the upgrade's socket wraps the raw TCP one.
    const slots = new Map<string, { release: () => void; raw: Socket }>();
    const slotKey = (s: { remoteAddress?: string; remotePort?: number }) =>
      `${s.remoteAddress}|${s.remotePort}`;
    http.on("connection", (socket: Socket) => {
      const a = d.admission.admit(socket);
      if ("refused" in a) {
        d.onRefused("admission");
        d.refusals.count(a.refused, socket.remoteAddress);
        socket.destroy();
        return;
      }
      const key = slotKey(socket);
      slots.set(key, { release: a.release, raw: socket });
      socket.once("close", () => {
        if (slots.get(key)?.raw === socket) slots.delete(key);
      });
      // Slow or silent before the upgrade: the HTTP timeouts above cut it; this covers the rest.
      socket.setTimeout(deadline, () => {
        if (slots.get(key)?.raw === socket) socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port, host, () => {
        http.off("error", reject);
        resolve();
      });
    });
    // Attached only once listening: ws re-emits its server's errors on itself, and a port already
    // taken must fail start() (the service reports it), not become an uncaught exception. Until a
    // peer is authenticated its messages are capped at a few KiB (PROTOCOL §1).
    const server = new WebSocketServer({ server: http, maxPayload: HANDSHAKE_MAX_FRAME_BYTES });
    server.on("error", (err) => d.log.error(`mesh listener error: ${err.message}`));
    http.on("error", (err) => d.log.error(`mesh listener error: ${err.message}`));
    this.#server = server;
    this.#http = http;
    const addr = http.address();
    const bound = typeof addr === "object" && addr ? addr.port : port;
    d.log.info(
      `mesh listening on ${tls ? "wss" : "ws"}://${host}:${bound}` +
        (tls ? ` (certificate sha256=${tls.fingerprint}: peers pin it as #sha256=<that>)` : ""),
    );
    server.on("connection", (ws, req: IncomingMessage) => {
      const socket = req.socket;
      ws.on("error", () => {}); // reported through the handshake or the link
      acceptHandshake(
        ws,
        d.auth,
        d.nonces,
        (peer, keys) => {
          const slot = slots.get(slotKey(socket));
          slots.delete(slotKey(socket));
          slot?.release();
          slot?.raw.setTimeout(0);
          d.onAuthenticated(ws, peer, keys);
        },
        d.handshakeTimeoutMs,
      ).catch((err: HandshakeError) => {
        d.onRefused(reasonKey(err.message));
        // One summary line per interval (PROTOCOL §1), not a line per stranger.
        d.refusals.count(`${err.code}: ${reasonKey(err.message)}`, `${socket.remoteAddress}: ${err.message}`);
      });
    });
    return bound;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      for (const c of server.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    }
    const http = this.#http;
    this.#http = undefined;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    }
  }
}
