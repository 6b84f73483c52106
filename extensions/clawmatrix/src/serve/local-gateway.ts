import { derefEnv, errorMessage } from "@openclaw-bundle/shared";

export { localGatewayFrom } from "@openclaw-bundle/shared";

import { meshError } from "../mesh/requests.ts";
import { SseReader, SseWireReader } from "./sse.ts";

/**
 * This node's own gateway over loopback HTTP: `/v1/chat/completions` (agent turns, streaming or
 * not) and `/tools/invoke`. The mesh never reaches a gateway's HTTP API from outside the host.
 */

export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface LocalGateway {
  url: string;
  token: string | undefined;
}

/**
 * The endpoint of a configured OpenAI-compatible provider (`models.providers.<id>`), so a model
 * served to the mesh is called as a model — the caller's messages and tools as they are — and
 * not as an agent turn of this node. Undefined for providers of another kind.
 */
export function providerEndpoint(
  config: unknown,
  provider: string,
  env: NodeJS.ProcessEnv = process.env,
): LocalGateway | undefined {
  const p = (
    config as
      | { models?: { providers?: Record<string, { baseUrl?: unknown; api?: unknown; apiKey?: unknown }> } }
      | undefined
  )?.models?.providers?.[provider];
  if (!p || typeof p.baseUrl !== "string" || (p.api !== undefined && p.api !== "openai-completions"))
    return undefined;
  return { url: p.baseUrl.replace(/\/+$/, ""), token: derefEnv(p.apiKey, env) };
}

async function post(
  gw: LocalGateway,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(gw.token ? { authorization: `Bearer ${gw.token}` } : {}),
        ...headers,
      },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw meshError("CANCELLED", "cancelled");
    throw meshError("UPSTREAM", `the local gateway did not answer ${path}: ${errorMessage(err)}`);
  }
  if (!res.ok) {
    const text = (await res.text().catch(() => "")).slice(0, 500);
    throw meshError("UPSTREAM", `the local gateway answered ${path} with ${res.status}: ${text}`);
  }
  return res;
}

async function boundedJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES)
    throw meshError("UPSTREAM", `answer over ${MAX_RESPONSE_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw meshError("UPSTREAM", "the local gateway answered with something that is not JSON");
  }
}

/**
 * How a streamed answer is handed over, all the events of one network read together (the
 * `[DONE]` marker included): each event's `data`, or the events in SSE wire form as bytes, not
 * decoded (sse.ts).
 */
export type StreamSink = { events(data: string[]): void } | { wire(bytes: Buffer): void };

/**
 * One chat-completions call. With a sink, the request streams and its events are handed over as
 * they arrive; otherwise the JSON answer is returned.
 */
export async function chatCompletions(
  gw: LocalGateway,
  body: Record<string, unknown>,
  headers: Record<string, string>,
  signal: AbortSignal,
  sink?: StreamSink,
  path = "/v1/chat/completions",
): Promise<unknown> {
  const res = await post(gw, path, { ...body, stream: Boolean(sink) }, headers, signal);
  if (!sink) return boundedJson(res);
  const pieces = res.body;
  if (!pieces) throw meshError("UPSTREAM", `the local gateway answered ${path} without a body`);
  try {
    if ("wire" in sink) {
      const reader = new SseWireReader();
      for await (const piece of pieces) {
        const wire = reader.push(piece);
        if (wire.length > 0) sink.wire(wire);
      }
    } else {
      const reader = new SseReader();
      const decoder = new TextDecoder();
      for await (const piece of pieces) {
        const events = reader.push(decoder.decode(piece, { stream: true }));
        if (events.length > 0) sink.events(events);
      }
    }
  } catch (err) {
    if (signal.aborted) throw meshError("CANCELLED", "cancelled");
    throw meshError("UPSTREAM", `the local gateway's stream broke: ${errorMessage(err)}`);
  }
  return undefined;
}

export async function invokeTool(
  gw: LocalGateway,
  tool: string,
  args: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  return boundedJson(await post(gw, "/tools/invoke", { tool, args: args ?? {} }, {}, signal));
}
