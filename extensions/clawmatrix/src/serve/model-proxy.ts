import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { BundleError, errorMessage, type Logger } from "@openclaw-bundle/shared";
import { Coalescer } from "../mesh/coalescer.ts";
import type { MeshNode } from "../mesh/node.ts";
import { MAX_FRAME_BYTES } from "../protocol/frames.ts";
import { utf8Bytes } from "../protocol/sizes.ts";

/**
 * The local OpenAI-compatible model proxy (ARCHITECTURE "The mesh"): the gateway's model providers
 * for remote nodes point here (`/node/<nodeId>/v1`), and each request travels the mesh to a node
 * that serves the model. Streams flow chunk by chunk; a client that goes away cancels upstream.
 * Loopback only; the bearer is the mesh secret (the provider config holds it as `${VAR}`).
 */

export const MAX_BODY_BYTES = MAX_FRAME_BYTES - 64 * 1024;
const STATUS_OF: Record<string, number> = {
  MESH_ERR_BAD_REQUEST: 400,
  MESH_ERR_NO_CANDIDATE: 404,
  MESH_ERR_UNREACHABLE: 503,
  MESH_ERR_TIMEOUT: 504,
  MESH_ERR_UPSTREAM: 502,
  MESH_ERR_CANCELLED: 499,
};

interface ModelProxyOptions {
  node: MeshNode;
  secret: string;
  host?: string;
  port: number;
  timeoutMs: number;
  log: Logger;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, message: string, code = "invalid_request_error"): void {
  send(res, status, { error: { message, type: code, code } });
}

/** Calls `ready` after this tick, once the response has no backlog; returns a cancel. */
function whenDrained(res: ServerResponse, ready: () => void): () => void {
  const tick = setImmediate(() => {
    if (res.writableNeedDrain) res.once("drain", ready);
    else ready();
  });
  return () => {
    clearImmediate(tick);
    res.off("drain", ready);
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const piece of req as AsyncIterable<Buffer>) {
    size += piece.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    parts.push(piece);
  }
  return JSON.parse(Buffer.concat(parts).toString("utf8"));
}

export class ModelProxy {
  readonly #o: ModelProxyOptions;
  readonly #key: Buffer;
  #server: Server | undefined;
  port: number | undefined;

  constructor(o: ModelProxyOptions) {
    this.#o = o;
    this.#key = digest(o.secret);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#o.port, this.#o.host ?? "127.0.0.1", () => resolve());
    });
    server.on("error", (err) => this.#o.log.error(`model proxy error: ${err.message}`));
    const addr = server.address();
    this.port = typeof addr === "object" && addr ? addr.port : this.#o.port;
    this.#server = server;
    this.#o.log.info(`model proxy on http://127.0.0.1:${this.port}/v1`);
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Models the mesh offers, as `{ node, model }`, optionally only one node's. */
  #models(node?: string): Array<{ node: string; model: string }> {
    const t = this.#o.node.table;
    const out: Array<{ node: string; model: string }> = [];
    for (const id of t.nodeIds()) {
      if ((node && id !== node) || !t.route(id)) continue;
      for (const m of t.stateOf(id)?.models ?? []) out.push({ node: id, model: m.id });
    }
    return out;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? "";
    const given = digest(auth.startsWith("Bearer ") ? auth.slice(7) : "");
    if (!timingSafeEqual(given, this.#key))
      return fail(res, 401, "missing or wrong bearer token", "authentication_error");
    const m = /^(?:\/node\/([A-Za-z0-9._-]{1,128}))?\/v1\/(models|chat\/completions)\/?$/.exec(
      (req.url ?? "").split("?")[0] ?? "",
    );
    if (!m) return fail(res, 404, `no route ${req.method} ${req.url}`);
    const pathNode = m[1];
    if (m[2] === "models") {
      const data = this.#models(pathNode).map((x) => ({
        id: pathNode ? x.model : `${x.node}/${x.model}`,
        object: "model",
        owned_by: x.node,
      }));
      return send(res, 200, { object: "list", data });
    }
    if (req.method !== "POST") return fail(res, 405, "use POST");
    let body: Record<string, unknown>;
    try {
      const parsed = await readBody(req);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("expected a JSON object");
      body = parsed as Record<string, unknown>;
    } catch (err) {
      return fail(res, 400, `bad request body: ${errorMessage(err)}`);
    }
    if (typeof body.model !== "string" || !body.model) return fail(res, 400, "model is required");
    let node = pathNode;
    let model = body.model;
    const slash = model.indexOf("/");
    if (!node && slash > 0 && this.#o.node.table.known(model.slice(0, slash))) {
      node = model.slice(0, slash);
      model = model.slice(slash + 1);
    }
    const candidates = this.#o.node.table.modelCandidates(model, node).filter((id) => id !== this.#o.node.id);
    if (candidates.length === 0)
      return fail(
        res,
        404,
        `no reachable node serves model "${model}"${node ? ` on ${node}` : ""}`,
        "model_not_found",
      );
    const stream = body.stream === true;
    const { model: _m, stream: _s, ...request } = body;
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    // Chunks that arrive together (or while the client has not taken the last write) go out in
    // one write; the first at once. They are SSE events in wire form already (PROTOCOL §7), and
    // go out as the bytes came, checked to be UTF-8 (a peer's invalid bytes are mended, §3a).
    const out = new Coalescer<Buffer>({
      send: (data) => void res.write(data),
      whenReady: (ready) => whenDrained(res, ready),
      maxSize: MAX_FRAME_BYTES,
    });
    try {
      let started = false;
      const onChunk = (data: Buffer) => {
        if (!started) {
          started = true;
          res.writeHead(200, {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            connection: "keep-alive",
          });
        }
        out.push(utf8Bytes(data));
      };
      const r = await this.#o.node.requests.call(
        candidates,
        "chat",
        { model, request, stream },
        {
          timeoutMs: this.#o.timeoutMs,
          signal: abort.signal,
          onChunkBytes: stream ? onChunk : undefined,
        },
      );
      if (stream) {
        if (!started) onChunk(Buffer.from("data: [DONE]\n\n"));
        out.flush();
        res.end();
      } else send(res, 200, r.body);
    } catch (err) {
      const code = err instanceof BundleError ? err.code : "MESH_ERR_UPSTREAM";
      if (abort.signal.aborted) return void res.end();
      if (res.headersSent) {
        out.flush(); // the events that came before the failure, then the error event
        res.write(`data: ${JSON.stringify({ error: { message: errorMessage(err), code } })}\n\n`);
        return void res.end();
      }
      fail(res, STATUS_OF[code] ?? 502, errorMessage(err), code);
    } finally {
      out.close();
    }
  }
}
