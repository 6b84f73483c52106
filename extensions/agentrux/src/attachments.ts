import { errorMessage } from "@openclaw-bundle/shared";
import type { AgentruxClient } from "./client.ts";
import { downloadUrl } from "./objects.ts";

/**
 * Attachments both ways (EXTERNAL-APIS.md section 1). Inbound: a text attachment of at most
 * 50 KB is inlined into the agent's message; anything else is passed as its presigned URL.
 * Outbound: what `agentrux_upload` stores during a conversation's turn is attached to that turn's
 * `openclaw.response`.
 */

const INLINE_LIMIT = 50 * 1024;

export interface InboundAttachment {
  name: string;
  object_id: string;
  content_type: string;
}

export interface OutboundAttachment {
  name: string;
  object_id: string;
  content_type: string;
  size: number;
  download_url?: string;
}

const TEXTUAL = /^(text\/|application\/(json|xml|yaml|x-yaml|csv|x-ndjson)\b)|\+(json|xml)\b/i;

const isTextual = (contentType: string) => TEXTUAL.test(contentType);

/** Reads at most `limit + 1` bytes, so an oversized body is noticed without reading all of it. */
async function readCapped(url: string, limit: number): Promise<Uint8Array | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok || !res.body) throw new Error(`download answered ${res.status}`);
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await res.body.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) return undefined; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The text the agent sees for the request's attachments: inlined, linked, or why neither. */
export async function describeInbound(
  client: AgentruxClient,
  topic: string,
  attachments: InboundAttachment[],
): Promise<string> {
  const parts: string[] = [];
  for (const a of attachments) {
    let url: string;
    try {
      url = await downloadUrl(client, topic, a.object_id);
    } catch (err) {
      parts.push(`Attachment ${a.name} (${a.content_type}): not available (${errorMessage(err)})`);
      continue;
    }
    if (isTextual(a.content_type)) {
      const bytes = await readCapped(url, INLINE_LIMIT).catch(() => undefined);
      if (bytes) {
        parts.push(`Attachment ${a.name} (${a.content_type}):\n${new TextDecoder().decode(bytes)}`);
        continue;
      }
    }
    parts.push(`Attachment ${a.name} (${a.content_type}): ${url}`);
  }
  return parts.join("\n\n");
}

/**
 * Uploads made during a turn, by conversation peer (session.ts). The tool knows its session key,
 * the dispatcher the peer it runs the turn for; both name the same conversation.
 */
export class Outbox {
  readonly #byPeer = new Map<string, OutboundAttachment[]>();

  add(peer: string, a: OutboundAttachment): void {
    const list = this.#byPeer.get(peer) ?? [];
    list.push(a);
    this.#byPeer.set(peer, list);
  }

  /** What the turn uploaded, handed over once. */
  take(peer: string): OutboundAttachment[] {
    const list = this.#byPeer.get(peer) ?? [];
    this.#byPeer.delete(peer);
    return list;
  }
}
