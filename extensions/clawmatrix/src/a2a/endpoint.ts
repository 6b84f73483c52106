import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonRpcTransportHandler, User } from "@a2a-js/sdk/server";
import { ServerCallContext, validateVersion } from "@a2a-js/sdk/server";
import { errorMessage, type Logger } from "@openclaw-bundle/shared";
import type { MeshCard } from "./card.ts";
import { type A2aPeerToken, type ConcurrencyLimit, peerFor, type RateLimiter } from "./peers.ts";

/**
 * The HTTP side of the mesh's A2A endpoint, on the gateway's own server: bearer token per peer,
 * then the peer's rate and concurrency limits, a bounded body, then the SDK's JSON-RPC handler;
 * its answer goes back as JSON, or as server-sent events for a stream. Every refusal is a JSON-RPC
 * error naming what was wrong; nothing the caller sent reaches a log line.
 */

/** The host's own A2A limit for a request body. */
export const MAX_BODY_BYTES = 1_048_576;

/** JSON-RPC codes the endpoint itself answers with (the SDK answers the protocol's own). */
export const RPC = {
  PARSE: -32700,
  INVALID_REQUEST: -32600,
  /** Over a peer's rate or concurrency limit; try again later. */
  OVERLOADED: -32000,
  CONTENT_TYPE: -32005,
  VERSION: -32009,
} as const;

export interface EndpointDeps {
  peers: () => readonly A2aPeerToken[];
  rate: RateLimiter;
  concurrency: ConcurrencyLimit;
  /** The SDK's handler and the card, or why the endpoint cannot serve now (the mesh is down). */
  serve: () => Promise<
    { rpc: JsonRpcTransportHandler; card: (origin: string) => MeshCard } | { down: string }
  >;
  /** The origin the card advertises: the configured one, else the request's. */
  origin: (req: IncomingMessage) => string;
  log: Logger;
}

class PeerUser implements User {
  readonly #name: string;
  constructor(name: string) {
    this.#name = name;
  }
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    return this.#name;
  }
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): true {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("cache-control", "no-store");
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(JSON.stringify(body));
  return true;
}

const rpcError = (res: ServerResponse, id: unknown, code: number, message: string, status = 200) =>
  json(res, status, { jsonrpc: "2.0", id: id ?? null, error: { code, message } });

/** Reads at most `max` bytes; undefined when the body is bigger (the rest is not read). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) return undefined;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

function authorize(req: IncomingMessage, res: ServerResponse, d: EndpointDeps): string | undefined {
  const peer = peerFor(req.headers.authorization, d.peers());
  if (peer === undefined)
    json(
      res,
      401,
      { error: "UNAUTHORIZED", message: "a peer's bearer token is required (Authorization: Bearer <token>)" },
      { "www-authenticate": 'Bearer realm="openclaw-mesh-a2a"' },
    );
  return peer;
}

/** `GET /bundle/a2a/agent-card.json`: the mesh's agents, for an authenticated peer. */
export async function serveCard(
  req: IncomingMessage,
  res: ServerResponse,
  d: EndpointDeps,
): Promise<boolean> {
  if (req.method !== "GET" && req.method !== "HEAD")
    return json(res, 405, { error: "METHOD", message: "the Agent Card answers GET" }, { allow: "GET" });
  if (authorize(req, res, d) === undefined) return true;
  const s = await d.serve();
  if ("down" in s) return json(res, 503, { error: "UNAVAILABLE", message: s.down });
  return json(res, 200, s.card(d.origin(req)));
}

/** `POST /bundle/a2a/v1`: one JSON-RPC request (A2A 1.0). */
export async function serveRpc(req: IncomingMessage, res: ServerResponse, d: EndpointDeps): Promise<boolean> {
  if (req.method !== "POST")
    return json(res, 405, { error: "METHOD", message: "the A2A endpoint answers POST" }, { allow: "POST" });
  const peer = authorize(req, res, d);
  if (peer === undefined) return true;
  // Counted before the body is read: a peer over its limit costs no parsing.
  if (!d.rate.take(peer))
    return rpcError(res, null, RPC.OVERLOADED, "rate limit: too many requests this minute");
  const type = String(req.headers["content-type"] ?? "");
  if (!/^application\/(json|a2a\+json)\b/i.test(type))
    return rpcError(
      res,
      null,
      RPC.CONTENT_TYPE,
      "the body must be JSON (content-type: application/json)",
      415,
    );
  const body = await readBody(req, MAX_BODY_BYTES);
  if (!body) return rpcError(res, null, RPC.INVALID_REQUEST, `the body is over ${MAX_BODY_BYTES} bytes`, 413);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return rpcError(res, null, RPC.PARSE, "the body is not valid JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    return rpcError(res, null, RPC.INVALID_REQUEST, "one JSON-RPC request object is expected (no batches)");
  const id = (parsed as { id?: unknown }).id;
  const release = d.concurrency.acquire(peer);
  if (!release)
    return rpcError(
      res,
      id,
      RPC.OVERLOADED,
      `this peer already has ${d.concurrency.running(peer)} requests running`,
    );
  try {
    const s = await d.serve();
    if ("down" in s) return rpcError(res, id, RPC.OVERLOADED, s.down, 503);
    const version = String(req.headers["a2a-version"] ?? "1.0");
    try {
      validateVersion(version, s.card(d.origin(req)), "JSONRPC");
    } catch {
      return rpcError(
        res,
        id,
        RPC.VERSION,
        `A2A version ${JSON.stringify(version.slice(0, 16))} is not served; 1.0 is`,
      );
    }
    const context = new ServerCallContext({ user: new PeerUser(peer), requestedVersion: version });
    const answer = await s.rpc.handle(parsed as Record<string, unknown>, context);
    if (!isStream(answer)) return json(res, 200, answer);
    await stream(res, answer, id, d.log);
    return true;
  } catch (err) {
    d.log.warn(`A2A request from peer ${peer} failed: ${errorMessage(err)}`);
    return rpcError(res, id, -32603, "internal error");
  } finally {
    release();
  }
}

function isStream(x: unknown): x is AsyncGenerator<unknown, void, undefined> {
  return typeof (x as { [Symbol.asyncIterator]?: unknown })?.[Symbol.asyncIterator] === "function";
}

/**
 * Server-sent events, one JSON-RPC response per event. A client that goes away stops the stream,
 * not the task (A2A: a task outlives its stream; GetTask reads it later).
 */
async function stream(
  res: ServerResponse,
  events: AsyncGenerator<unknown, void, undefined>,
  id: unknown,
  log: Logger,
): Promise<void> {
  res.statusCode = 200;
  res.setHeader("content-type", "text/event-stream");
  res.setHeader("cache-control", "no-cache");
  res.setHeader("x-accel-buffering", "no");
  res.flushHeaders();
  let gone = false;
  res.once("close", () => {
    gone = true;
    void events.return(undefined);
  });
  try {
    for await (const event of events) {
      if (gone) break;
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    }
  } catch (err) {
    log.warn(`A2A stream ended early: ${errorMessage(err)}`);
    if (!gone)
      res.write(
        `data: ${JSON.stringify({ jsonrpc: "2.0", id: id ?? null, error: { code: -32603, message: "the stream failed" } })}\n\n`,
      );
  } finally {
    if (!res.writableEnded) res.end();
  }
}
