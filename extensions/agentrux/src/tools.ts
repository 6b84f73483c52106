import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import {
  type AgentTool,
  guardTool,
  schemaObject,
  schemaString,
  sleep,
  type ToolParams,
  textResult,
} from "@openclaw-bundle/shared";
import { CODE_PATTERN } from "./activation.ts";
import { type AgentruxClient, agentruxError, type Position, type TopicEvent } from "./client.ts";
import { uploadObject } from "./objects.ts";
import type { AgentruxService, Config } from "./service.ts";
import { peerOfSession } from "./session.ts";

/**
 * The agent tools of EXTERNAL-APIS.md section 1. Each validates its arguments, bounds what it
 * reads, and answers `error AGENTRUX_ERR_<CODE>: <what to do>` instead of throwing into the turn.
 */

type Params = ToolParams;
export type AgentruxTool = AgentTool;
/** What the host tells a tool about the turn it runs in. */
export interface ToolContext {
  sessionKey?: string;
  workspaceDir?: string;
}

const MAX_UPLOAD = 25 * 1024 * 1024;
const MAX_PAYLOAD_CHARS = 4000;
const str = schemaString;
const int = (description: string, minimum: number, maximum: number) => ({
  type: "integer",
  description,
  minimum,
  maximum,
});
const obj = schemaObject;
const TOPIC = str("An AgenTrux topic id");

const text = textResult;

function need(p: Params, key: string, max = 256): string {
  const v = p[key];
  if (typeof v !== "string" || !v.trim() || v.length > max)
    throw agentruxError("BAD_REQUEST", `${key} is required: a non-empty string of at most ${max} characters`);
  return v;
}
function optInt(p: Params, key: string, min: number, max: number, dflt: number): number {
  const v = p[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v))
    throw agentruxError(
      "BAD_REQUEST",
      `${key} must be an integer from ${min} to ${max} (got ${JSON.stringify(v)})`,
    );
  return Math.min(max, Math.max(min, v));
}
const clip = (v: unknown) => {
  const s = JSON.stringify(v) ?? "";
  return s.length > MAX_PAYLOAD_CHARS ? `${s.slice(0, MAX_PAYLOAD_CHARS)}… (truncated)` : s;
};

/** Waits for the event on `topic` after `after` whose correlation id (or request id) is `id`. */
async function awaitReply(
  client: AgentruxClient,
  topic: string,
  after: Position,
  id: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TopicEvent | undefined> {
  const end = Date.now() + timeoutMs;
  let cursor = after;
  while (Date.now() < end && !signal?.aborted) {
    const page = await client.read(topic, cursor, 50);
    for (const ev of page) {
      cursor = ev.position;
      const rid = (ev.payload as { request_id?: unknown } | null)?.request_id;
      if (ev.correlation_id === id || rid === id) return ev;
    }
    if (page.length === 0) await sleep(Math.min(500, Math.max(0, end - Date.now())));
  }
  return undefined;
}

/** agentrux_read's position: `after` (a sequence number or an event id) or `after_sequence_no`. */
function readFrom(c: AgentruxClient, p: Params): Position {
  if (c.generation === "seed") {
    if (typeof p.after === "string" && /^\d{1,15}$/.test(p.after)) return Number(p.after);
    return optInt(p, "after_sequence_no", 0, Number.MAX_SAFE_INTEGER, 0);
  }
  if (p.after_sequence_no !== undefined)
    throw agentruxError(
      "BAD_REQUEST",
      "this broker speaks the live API: read after an event id (after), not a sequence number",
    );
  return p.after === undefined ? c.start : need(p, "after", 1024);
}

export function createTools(
  live: () => AgentruxService | undefined,
  config: Config,
  ctx: ToolContext,
): AgentruxTool[] {
  const client = () => {
    const c = live()?.client;
    if (!c)
      throw agentruxError(
        "NOT_ACTIVATED",
        "AgenTrux is not activated on this gateway: call agentrux_activate with an activation code",
      );
    return c;
  };
  const wrap = (fn: Parameters<typeof guardTool>[1]) => guardTool("AGENTRUX_ERR_UPSTREAM", fn);

  return [
    {
      name: "agentrux_activate",
      label: "Activate AgenTrux",
      description:
        "Activate this gateway's AgenTrux access with a one-time activation code (ac_... or act_...). The code is used once and never stored in config or logs.",
      parameters: obj(
        { activation_code: str("The one-time code, ac_ or act_ followed by 20-200 characters") },
        ["activation_code"],
      ),
      execute: wrap(async (p) => {
        const code = p.activation_code;
        if (typeof code !== "string" || !CODE_PATTERN.test(code.trim()))
          throw agentruxError(
            "BAD_REQUEST",
            "activation_code must look like ac_ or act_ followed by 20-200 of A-Z a-z 0-9 _ -",
          );
        const s = live();
        if (!s) throw agentruxError("UNAVAILABLE", "the AgenTrux service is not running on this gateway");
        const r = await s.activateWith(code.trim());
        if (r.state === "activated") return text(`activated: script ${r.scriptId}`, { state: r.state });
        if (r.state === "credentials-present")
          return text("already activated: credentials exist; no code was used", { state: r.state });
        throw agentruxError("ACTIVATION", s.lastError ?? `activation ended as ${r.state}`);
      }),
    },
    {
      name: "agentrux_publish",
      label: "Publish to AgenTrux",
      description: "Publish an event to an AgenTrux topic this gateway may write.",
      parameters: obj(
        {
          topic_id: TOPIC,
          type: str("Event type, e.g. openclaw.request"),
          payload: { type: "object", description: "The event payload (JSON object)" },
          correlation_id: str("Optional correlation id"),
          reply_topic: str("Optional topic the receiver should answer on"),
        },
        ["topic_id", "type", "payload"],
      ),
      execute: wrap(async (p) => {
        const payload = p.payload;
        if (!payload || typeof payload !== "object" || Array.isArray(payload))
          throw agentruxError("BAD_REQUEST", "payload must be a JSON object");
        if (JSON.stringify(payload).length > 256 * 1024)
          throw agentruxError(
            "BAD_REQUEST",
            "payload is over 256 KB: upload large content with agentrux_upload",
          );
        const id = await client().publish(need(p, "topic_id"), {
          type: need(p, "type", 128),
          payload,
          ...(p.correlation_id ? { correlation_id: need(p, "correlation_id") } : {}),
          ...(p.reply_topic ? { reply_topic: need(p, "reply_topic") } : {}),
        });
        return text(`published event ${id}`, { event_id: id });
      }),
    },
    {
      name: "agentrux_read",
      label: "Read an AgenTrux Topic",
      description:
        "Read events of an AgenTrux topic, oldest first, after a position: a sequence number (seed API) or an event id (live API).",
      parameters: obj(
        {
          topic_id: TOPIC,
          after: str(
            "Read events after this position (an event id, or a sequence number); default: the start",
          ),
          after_sequence_no: int(
            "Read events after this sequence number (seed API; default 0)",
            0,
            Number.MAX_SAFE_INTEGER,
          ),
          limit: int("How many (1-100, default 20)", 1, 100),
          type: str("Only events of this type"),
        },
        ["topic_id"],
      ),
      execute: wrap(async (p) => {
        const c = client();
        const after = readFrom(c, p);
        const items = await c.read(need(p, "topic_id"), after, optInt(p, "limit", 1, 100, 20), {
          type: p.type ? need(p, "type", 128) : undefined,
        });
        const lines = items.map((e) => `${e.event_id} @${e.position} ${e.type} ${clip(e.payload)}`);
        const last = items.at(-1)?.position ?? after;
        return text(lines.length ? lines.join("\n") : `no events after ${JSON.stringify(after)}`, {
          count: items.length,
          // What to pass as `after` for the next page.
          next: last,
          ...(typeof last === "number" ? { last_sequence_no: last } : {}),
        });
      }),
    },
    {
      name: "agentrux_send_message",
      label: "Message an Agent over AgenTrux",
      description:
        "Send a message to another agent's AgenTrux topic and wait for its reply on a reply topic (matched by correlation id).",
      parameters: obj(
        {
          topic_id: str("The receiver's command topic"),
          message: str("The message"),
          reply_topic: str("The topic the reply comes back on (one this gateway may read)"),
          timeout_ms: int("How long to wait for the reply (1000-600000, default 60000)", 1000, 600_000),
        },
        ["topic_id", "message", "reply_topic"],
      ),
      execute: wrap(async (p, signal) => {
        const c = client();
        const replyTopic = need(p, "reply_topic");
        const timeoutMs = optInt(p, "timeout_ms", 1000, 600_000, 60_000);
        const correlation = randomUUID();
        const after = await c.head(replyTopic); // only replies published from now on
        await c.publish(need(p, "topic_id"), {
          type: "openclaw.request",
          payload: { request_id: correlation, message: need(p, "message", 100_000) },
          correlation_id: correlation,
          reply_topic: replyTopic,
        });
        const reply = await awaitReply(c, replyTopic, after, correlation, timeoutMs, signal);
        if (!reply)
          throw agentruxError(
            "TIMEOUT",
            `no reply on ${replyTopic} within ${timeoutMs} ms (correlation ${correlation})`,
          );
        const body = reply.payload as { message?: unknown; status?: unknown } | null;
        return text(typeof body?.message === "string" ? body.message : clip(reply.payload), {
          correlation_id: correlation,
          status: body?.status,
          event_id: reply.event_id,
        });
      }),
    },
    {
      name: "agentrux_redeem_grant",
      label: "Redeem an AgenTrux Invite",
      description: "Redeem an invite code (inv_...) for access to another account's topic.",
      parameters: obj({ invite_code: str("The invite code, inv_...") }, ["invite_code"]),
      execute: wrap(async (p) => {
        const code = need(p, "invite_code");
        if (client().generation === "live")
          throw agentruxError(
            "UNSUPPORTED",
            "the live AgenTrux API redeems invite codes only in the console (a signed-in user), not with a script's credentials",
          );
        if (!code.startsWith("inv_")) throw agentruxError("BAD_REQUEST", "invite_code must start with inv_");
        const creds = live()?.credentials;
        if (!creds)
          throw agentruxError("NOT_ACTIVATED", "AgenTrux is not activated: call agentrux_activate first");
        const r = (await client().call("POST", "/auth/redeem-invite-code", {
          invite_code: code,
          script_id: creds.script_id,
          client_secret: creds.client_secret,
        })) as { topic_id?: string; action?: string };
        return text(`granted ${r?.action} on ${r?.topic_id}`, { topic_id: r?.topic_id, action: r?.action });
      }),
    },
    {
      name: "agentrux_upload",
      label: "Upload to AgenTrux",
      description:
        "Upload a file from the workspace (or given text) to an AgenTrux topic. During a turn started by an AgenTrux request, the file is attached to the answer.",
      parameters: obj(
        {
          path: str("A file in the agent's workspace"),
          content: str("Text to upload instead of a file"),
          filename: str("Name for the object (default: the file's name)"),
          content_type: str("MIME type (default text/plain for content, application/octet-stream for files)"),
          topic_id: str(`Topic to store it on (default: the result topic, ${config.resultTopicId})`),
        },
        [],
      ),
      execute: wrap(async (p) => {
        let bytes: Uint8Array;
        let name: string;
        if (typeof p.content === "string") {
          bytes = Buffer.from(p.content, "utf8");
          name = p.filename ? need(p, "filename") : "content.txt";
        } else {
          const file = need(p, "path", 4096);
          const root = path.resolve(ctx.workspaceDir ?? process.cwd());
          const abs = path.resolve(root, file);
          if (abs !== root && !abs.startsWith(`${root}${path.sep}`))
            throw agentruxError("BAD_REQUEST", `path ${file} is outside the workspace (${root})`);
          const st = await fs.stat(abs).catch(() => undefined);
          if (!st?.isFile())
            throw agentruxError("BAD_REQUEST", `path ${file} is not a file in the workspace`);
          if (st.size > MAX_UPLOAD)
            throw agentruxError("BAD_REQUEST", `${file} is ${st.size} bytes; the limit is ${MAX_UPLOAD}`);
          bytes = await fs.readFile(abs);
          name = p.filename ? need(p, "filename") : path.basename(abs);
        }
        if (bytes.byteLength > MAX_UPLOAD)
          throw agentruxError(
            "BAD_REQUEST",
            `content is ${bytes.byteLength} bytes; the limit is ${MAX_UPLOAD}`,
          );
        const contentType = p.content_type
          ? need(p, "content_type", 128)
          : typeof p.content === "string"
            ? "text/plain; charset=utf-8"
            : "application/octet-stream";
        const topic = p.topic_id ? need(p, "topic_id") : config.resultTopicId;
        const up = await uploadObject(client(), topic, bytes, name, contentType);
        const attachment = { name, content_type: contentType, size: bytes.byteLength, ...up };
        // Only an upload to the result topic, in a turn answering a request, rides on the answer.
        const peer = topic === config.resultTopicId ? peerOfSession(ctx.sessionKey) : undefined;
        const outbox = peer ? live()?.outbox : undefined;
        outbox?.add(peer as string, attachment);
        return text(
          `uploaded ${name} (${bytes.byteLength} bytes) as ${up.object_id}${outbox ? "; attached to the answer" : ""}`,
          attachment,
        );
      }),
    },
  ];
}
