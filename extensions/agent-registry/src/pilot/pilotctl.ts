import { execFile } from "node:child_process";
import { isBundleError } from "@openclaw-bundle/shared";
import { z } from "zod";
import { MAX_NODE_ID, nodeIdOf, pilotError } from "./address.ts";

/**
 * A thin wrapper around the `pilotctl` CLI (EXTERNAL-APIS.md section 3). Only the sub-commands
 * the contract lists exist here; the public client invented some and put global flags after the
 * sub-command, where they were ignored. The real pilotctl has no global flag but `--json` (a
 * leading `--socket` is answered `unknown command: --socket`): the daemon's socket reaches it
 * through the PILOT_SOCKET environment variable, and `inbox` reads `$HOME/.pilot/inbox` itself,
 * so HOME must be the daemon's. The binary runs through execFile (no shell), so message text is
 * one argv element and is never interpreted. Parsing is pure and tested without processes.
 */

const DEFAULT_PILOTCTL_TIMEOUT_MS = 15_000;
/** Cap on each of stdout and stderr; an inbox dump is the largest answer pilotctl gives. */
export const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Linux refuses a single argv element over 128 KiB (MAX_ARG_STRLEN); stay under it. */
export const MAX_MESSAGE_BYTES = 120 * 1024;
const MAX_ERROR_TEXT = 500;
const SUB_COMMANDS = [
  "info",
  "peers",
  "send-message",
  "inbox",
  "pending",
  "handshake",
  "approve",
  "reject",
  "untrust",
  "trust",
] as const;
export type SubCommand = (typeof SUB_COMMANDS)[number];
export type Flags = Record<string, string | boolean | undefined>;

type Envelope = { ok: true; data: unknown } | { ok: false; code: string; message: string; hint?: string };

const okEnvelope = z.object({ status: z.literal("ok"), data: z.unknown() });
const errorEnvelope = z.object({
  status: z.literal("error"),
  code: z.string().max(64),
  message: z.string().max(4000),
  hint: z.string().max(4000).optional(),
});
const anyEnvelope = z.union([okEnvelope, errorEnvelope]);

const cut = (s: string, max = MAX_ERROR_TEXT) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** The last envelope in a stream: log lines may precede it, and a pretty-printed one spans lines. */
function lastEnvelope(text: string): z.infer<typeof anyEnvelope> | undefined {
  if (!text || text.length > MAX_OUTPUT_BYTES) return undefined;
  const tryParse = (s: string) => {
    try {
      const r = anyEnvelope.safeParse(JSON.parse(s));
      return r.success ? r.data : undefined;
    } catch {
      return undefined;
    }
  };
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]?.trim() ?? "";
    const found = line.startsWith("{") ? tryParse(line) : undefined;
    if (found) return found;
  }
  const start = text.indexOf("{");
  return start >= 0 ? tryParse(text.slice(start)) : undefined;
}

/** Turns one pilotctl run into success data or a failure with a code from the contract. */
export function parseEnvelope(stdout: string, stderr: string, exitCode: number | null): Envelope {
  const fromErr = lastEnvelope(stderr);
  const fromOut = lastEnvelope(stdout);
  // The contract puts failures on stderr; one on stdout, or with exit 0, is still a failure.
  const failure = fromErr?.status === "error" ? fromErr : fromOut?.status === "error" ? fromOut : undefined;
  if (failure) {
    const code = /^[a-z][a-z0-9_]*$/i.test(failure.code) ? failure.code.toLowerCase() : "internal";
    const hint = failure.hint ? { hint: cut(failure.hint) } : {};
    return { ok: false, code, message: cut(failure.message), ...hint };
  }
  if (fromOut?.status === "ok" && exitCode === 0) return { ok: true, data: fromOut.data };
  const text = cut(stderr.trim().replace(/\s+/g, " "));
  const how =
    exitCode === 0
      ? "exited 0 without a JSON answer"
      : exitCode === null
        ? "was killed"
        : `exited with code ${exitCode}`;
  const tail = text ? `: ${text}` : exitCode === 0 ? "" : " and printed nothing";
  return { ok: false, code: "internal", message: `pilotctl ${how}${tail}` };
}

/**
 * `--json`, the sub-command, its positional args, then its flags: always this order. Valued flags
 * are `--name=value`: pilotctl's parser reads `--name value` as a bare `--name` when the value
 * starts with `--`, and message text may.
 */
export function buildArgs(sub: SubCommand, positional: readonly string[], flags: Flags = {}): string[] {
  if (!SUB_COMMANDS.includes(sub))
    throw pilotError("INVALID_ARGUMENT", `pilotctl has no sub-command ${JSON.stringify(sub)}`);
  const args = ["--json", sub];
  for (const p of positional) {
    // A positional that starts with "-" would be read as a flag by Go's flag parser.
    if (p === "" || p.startsWith("-"))
      throw pilotError(
        "INVALID_ARGUMENT",
        `pilotctl ${sub}: argument ${JSON.stringify(cut(p, 80))} is empty or starts with "-"`,
      );
    args.push(p);
  }
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined || value === false) continue;
    args.push(value === true ? `--${name}` : `--${name}=${value}`);
  }
  if (args.some((a) => a.includes("\0")))
    throw pilotError("INVALID_ARGUMENT", `pilotctl ${sub}: an argument contains a NUL byte`);
  return args;
}

const nodeId = z.number().int().min(0).max(MAX_NODE_ID);
const str = (max = 512) => z.string().max(max);
// Fields the bundle does not rely on are lenient (`.catch`), so a daemon upgrade cannot break them.
const soft = <T extends z.ZodType>(t: T) => t.optional().catch(undefined);

const infoSchema = z.looseObject({
  node_id: nodeId,
  address: str(64),
  hostname: soft(str(253)),
  uptime_secs: soft(z.number().min(0)),
  peers: soft(z.number().int().min(0)),
  public_key: soft(str(1024)),
});
const peer = z.looseObject({
  node_id: nodeId,
  endpoint: soft(str(256)),
  encrypted: soft(z.boolean()),
  authenticated: soft(z.boolean()),
});
/** Go prints an empty (nil) slice as `null`: `peers` with no peers, `inbox` once cleared. */
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .max(100_000)
    .nullable()
    .transform((l) => l ?? []);
const peersSchema = z.object({ peers: list(peer), total: soft(z.number().int().min(0)) });
const sendSchema = z.looseObject({
  target: soft(z.union([str(256), z.number()])),
  type: soft(str(32)),
  bytes: z.number().int().min(0),
  ack: z.unknown().optional(),
});
const messageSchema = z.looseObject({
  type: str(32),
  from: str(256),
  // A json message may come back parsed; callers always get the text.
  data: z.unknown().transform((v) => (typeof v === "string" ? v : JSON.stringify(v ?? null))),
  bytes: z.number().int().min(0),
  received_at: str(64),
});
const inboxSchema = z.object({ messages: list(messageSchema) });
const clearedSchema = z.object({ cleared: z.number().int().min(0) });
const pendingSchema = z.object({
  pending: list(
    z.looseObject({
      node_id: nodeId,
      public_key: soft(str(1024)),
      justification: soft(str(4000)),
      // Unix seconds from the real daemon; it keys the handshake, so it is kept, never dropped.
      received_at: soft(z.union([z.number().int().min(0), str(64)])),
    }),
  ),
});
const statusSchema = z.looseObject({ status: str(64), node_id: soft(nodeId) });
/** `untrust` answers `{ node_id }` alone: the revoke happened, there is no status to report. */
const untrustSchema = z.looseObject({ node_id: nodeId });
const trustedPeer = z.union([nodeId.transform((n) => ({ node_id: n })), z.looseObject({ node_id: nodeId })]);
const trustedSchema = z.object({ trusted: list(trustedPeer) });

export type PilotInfo = z.infer<typeof infoSchema>;
type PilotPeer = z.infer<typeof peer>;
type PilotMessage = z.infer<typeof messageSchema>;
export type PendingHandshake = z.infer<typeof pendingSchema>["pending"][number];
export type TrustedPeer = z.infer<typeof trustedPeer>;
type PilotStatus = z.infer<typeof statusSchema>;
type Untrusted = z.infer<typeof untrustSchema>;
type SendResult = z.infer<typeof sendSchema>;

interface PilotctlOptions {
  /** Path to the pilotctl binary. */
  bin: string;
  /** Daemon IPC socket, passed as PILOT_SOCKET; pilotctl's default when absent. */
  socketPath?: string;
  /** HOME of the daemon: `inbox` reads `$HOME/.pilot/inbox` without asking the daemon. */
  home?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The child's environment: the socket and home this wrapper was made for win over inherited ones. */
export function childEnv(o: Pick<PilotctlOptions, "socketPath" | "home" | "env">): NodeJS.ProcessEnv {
  return {
    ...(o.env ?? process.env),
    ...(o.socketPath ? { PILOT_SOCKET: o.socketPath } : {}),
    ...(o.home ? { HOME: o.home } : {}),
  };
}

export class Pilotctl {
  readonly #o: PilotctlOptions;

  constructor(opts: PilotctlOptions) {
    this.#o = opts;
  }

  async info(): Promise<PilotInfo> {
    return this.#run("info", [], {}, infoSchema);
  }

  async peers(search?: string): Promise<{ peers: PilotPeer[]; total: number }> {
    const r = await this.#run("peers", [], { search: search || undefined }, peersSchema);
    return { peers: r.peers, total: r.total ?? r.peers.length };
  }

  /** `target` is an address, a hostname or a node id; `data` travels as one argv element. */
  async sendMessage(
    target: string | number,
    data: string,
    type: "text" | "json" = "text",
  ): Promise<SendResult> {
    const size = Buffer.byteLength(data);
    if (size > MAX_MESSAGE_BYTES)
      throw pilotError("INVALID_ARGUMENT", `message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    if (type === "json") {
      try {
        JSON.parse(data);
      } catch {
        throw pilotError("INVALID_ARGUMENT", "a json message must hold valid JSON");
      }
    }
    return this.#run("send-message", [String(target).trim()], { data, type }, sendSchema);
  }

  async inbox(): Promise<PilotMessage[]> {
    return (await this.#run("inbox", [], {}, inboxSchema)).messages;
  }

  /** Empties the daemon's inbox; answers how many messages went (0 when it had no inbox yet). */
  async clearInbox(): Promise<number> {
    try {
      return (await this.#run("inbox", [], { clear: true }, clearedSchema)).cleared;
    } catch (err) {
      // The real CLI answers not_found ("inbox is empty") when the inbox folder does not exist.
      if (isBundleError(err, "PILOT_ERR_NOT_FOUND")) return 0;
      throw err;
    }
  }

  async pending(): Promise<PendingHandshake[]> {
    return (await this.#run("pending", [], {}, pendingSchema)).pending;
  }

  async handshake(id: string | number, justification?: string): Promise<PilotStatus> {
    return this.#run("handshake", [idArg("handshake", id), ...optional(justification)], {}, statusSchema);
  }

  async approve(id: string | number): Promise<PilotStatus> {
    return this.#run("approve", [idArg("approve", id)], {}, statusSchema);
  }

  async reject(id: string | number, reason?: string): Promise<PilotStatus> {
    return this.#run("reject", [idArg("reject", id), ...optional(reason)], {}, statusSchema);
  }

  async untrust(id: string | number): Promise<Untrusted> {
    return this.#run("untrust", [idArg("untrust", id)], {}, untrustSchema);
  }

  async trusted(): Promise<TrustedPeer[]> {
    return (await this.#run("trust", [], {}, trustedSchema)).trusted;
  }

  async #run<T extends z.ZodType>(
    sub: SubCommand,
    positional: string[],
    flags: Flags,
    schema: T,
  ): Promise<z.infer<T>> {
    const args = buildArgs(sub, positional, flags);
    const timeout = this.#o.timeoutMs ?? DEFAULT_PILOTCTL_TIMEOUT_MS;
    const env = await runOnce(this.#o.bin, sub, args, timeout, childEnv(this.#o));
    if (!env.ok) {
      const hint = env.hint ? ` (hint: ${env.hint})` : "";
      throw pilotError(env.code.toUpperCase(), `pilotctl ${sub}: ${env.message}${hint}`, {
        details: { code: env.code, hint: env.hint },
      });
    }
    const parsed = schema.safeParse(env.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue ? ` (${issue.path.join(".") || "data"}: ${issue.message})` : "";
      throw pilotError("BAD_RESPONSE", `pilotctl ${sub} answered data that does not match the contract${at}`);
    }
    return parsed.data;
  }
}

/** One run. Failures to run at all throw; whatever pilotctl answered becomes an envelope. */
function runOnce(
  bin: string,
  sub: SubCommand,
  args: string[],
  timeout: number,
  env: NodeJS.ProcessEnv,
): Promise<Envelope> {
  const opts = { timeout, maxBuffer: MAX_OUTPUT_BYTES, env, encoding: "utf8" as const, windowsHide: true };
  return new Promise((resolve, reject) => {
    execFile(bin, args, opts, (err, stdout, stderr) => {
      const code = err?.code;
      const fail = (c: string, m: string) => reject(pilotError(c, m, { cause: err }));
      if (!err) resolve(parseEnvelope(stdout, stderr, 0));
      else if (code === "ENOENT" || code === "EACCES")
        fail("NOT_INSTALLED", `pilotctl is not installed or not executable at ${bin} (${code})`);
      else if (err.killed) fail("TIMEOUT", `pilotctl ${sub} gave no answer within ${timeout} ms`);
      else if (code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER")
        fail("INTERNAL", `pilotctl ${sub} printed more than ${MAX_OUTPUT_BYTES} bytes`);
      else resolve(parseEnvelope(stdout, stderr, typeof code === "number" ? code : null));
    });
  });
}

/** Node ids go to pilotctl as decimal; addresses are reduced to their id, hostnames refused. */
function idArg(sub: string, id: string | number): string {
  const n = nodeIdOf(id);
  if (n === undefined)
    throw pilotError(
      "INVALID_ARGUMENT",
      `pilotctl ${sub} needs a node id or address, got ${JSON.stringify(String(id).slice(0, 80))}`,
    );
  return String(n);
}

const optional = (s: string | undefined) => (s?.trim() ? [s.trim()] : []);
