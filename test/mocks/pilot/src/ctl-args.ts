import { parseTarget } from "./address.ts";
import { PilotError } from "./errors.ts";
import { checkMessageData } from "./wire.ts";

/**
 * pilotctl's command line and text output, pure (no socket, no process) so it is unit-tested:
 * `pilotctl [--socket PATH] [--json] <command> [args and flags]`. `--json` may stand anywhere;
 * `--socket` (or PILOT_SOCKET) only before the command. After it, `--socket` is refused loudly:
 * the real CLI's Go flag parser would ignore it, and a client that puts it there talks to the
 * wrong daemon. Success: `{status:"ok",data}` on stdout, exit 0; failure:
 * `{status:"error",code,message,hint?}` on stderr, exit 1; without `--json` the same as text.
 */

export const DEFAULT_SOCKET = "/tmp/pilot.sock";

type Flags = Record<string, string | boolean>;
export interface Command {
  flags: Record<string, "string" | "bool">;
  /** Positional arguments: [min, max]; extra words of the last one join with spaces when max is Infinity. */
  positionals: [number, number];
  args(pos: string[], flags: Flags): Record<string, unknown>;
  text(data: Record<string, unknown>): string;
}

const rows = (list: unknown, fmt: (r: Record<string, unknown>) => string, empty: string) => {
  const l = (list ?? []) as Array<Record<string, unknown>>;
  return l.length ? l.map(fmt).join("\n") : empty;
};
const targetArgs = (pos: string[]) => ({ target: pos[0] });
const status = (d: Record<string, unknown>) => `${d.status}: node ${d.node_id}`;

export const COMMANDS: Record<string, Command> = {
  info: {
    flags: {},
    positionals: [0, 0],
    args: () => ({}),
    text: (d) =>
      [
        `Address:     ${d.address}`,
        `Node ID:     ${d.node_id}`,
        `Hostname:    ${d.hostname}`,
        `Public key:  ${d.public_key}`,
        `Endpoint:    ${d.endpoint ?? "(none)"}`,
        `Listen port: ${d.listen_port}`,
        `Peers:       ${d.peers}`,
        `Uptime:      ${d.uptime_secs}s`,
      ].join("\n"),
  },
  peers: {
    flags: { search: "string" },
    positionals: [0, 0],
    args: (_p, f) => (typeof f.search === "string" ? { search: f.search } : {}),
    text: (d) =>
      rows(d.peers, (p) => `${p.node_id}  ${p.endpoint ?? "-"}  encrypted authenticated`, "no peers"),
  },
  "send-message": {
    flags: { data: "string", type: "string" },
    positionals: [1, 1],
    args: (pos, f) => {
      const data = f.data;
      if (typeof data !== "string" || data === "")
        throw new PilotError("invalid_argument", "--data is required");
      const type = checkMessageData(data, typeof f.type === "string" ? f.type : undefined);
      return { target: pos[0], data, type };
    },
    text: (d) => `sent ${d.bytes} bytes (${d.type}) to ${d.target}${d.ack ? ", acknowledged" : ""}`,
  },
  inbox: {
    flags: { clear: "bool" },
    positionals: [0, 0],
    args: (_p, f) => ({ clear: f.clear === true }),
    text: (d) =>
      "cleared" in d
        ? `cleared ${d.cleared} message(s)`
        : rows(
            d.messages,
            (m) => `[${m.received_at}] ${m.from} (${m.type}, ${m.bytes} bytes): ${m.data}`,
            "inbox is empty",
          ),
  },
  pending: {
    flags: {},
    positionals: [0, 0],
    args: () => ({}),
    text: (d) =>
      rows(
        d.pending,
        (p) => `${p.node_id}  ${p.received_at}  ${p.justification || "-"}`,
        "no pending handshakes",
      ),
  },
  handshake: {
    flags: {},
    positionals: [1, Number.POSITIVE_INFINITY],
    args: (pos) => ({ target: pos[0], justification: pos.slice(1).join(" ") }),
    text: status,
  },
  approve: { flags: {}, positionals: [1, 1], args: targetArgs, text: status },
  reject: {
    flags: {},
    positionals: [1, Number.POSITIVE_INFINITY],
    args: (pos) => ({ target: pos[0], reason: pos.slice(1).join(" ") }),
    text: status,
  },
  untrust: { flags: {}, positionals: [1, 1], args: targetArgs, text: status },
  trust: {
    flags: {},
    positionals: [0, 0],
    args: () => ({}),
    text: (d) =>
      rows(d.trusted, (t) => `${t.node_id}  ${t.hostname}  approved ${t.approved_at}`, "no trusted peers"),
  },
};

export const USAGE =
  "usage: pilotctl [--socket PATH] [--json] <command> [args]\n" +
  `commands: ${Object.keys(COMMANDS).join(", ")}`;

/** `--name=value`, `--name value` or `-name`: the name and, when inline, the value. */
function flagOf(a: string): { name: string; inline?: string } | undefined {
  if (!/^--?[A-Za-z]/.test(a)) return undefined;
  const body = a.replace(/^--?/, "");
  const eq = body.indexOf("=");
  return eq >= 0 ? { name: body.slice(0, eq), inline: body.slice(eq + 1) } : { name: body };
}

export interface Invocation {
  json: boolean;
  socket: string;
  cmd: string;
  args: Record<string, unknown>;
}

/** The command line, or a PilotError (invalid_argument) naming what is wrong with it. */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Invocation | { help: true } {
  const json = argv.some((a) => a === "--json" || a === "-json");
  const rest = argv.filter((a) => a !== "--json" && a !== "-json");
  let socket = env.PILOT_SOCKET || DEFAULT_SOCKET;
  let i = 0;
  for (; i < rest.length; i++) {
    const f = flagOf(rest[i] as string);
    if (!f) break;
    if (f.name === "h" || f.name === "help") return { help: true };
    if (f.name !== "socket")
      throw new PilotError("invalid_argument", `unknown global flag -${f.name}`, { hint: USAGE });
    const value = f.inline ?? rest[++i];
    if (!value) throw new PilotError("invalid_argument", "--socket needs a path");
    socket = value;
  }
  const cmd = rest[i];
  if (!cmd) throw new PilotError("invalid_argument", "no command given", { hint: USAGE });
  const spec = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!spec)
    throw new PilotError("invalid_argument", `unknown command ${JSON.stringify(cmd)}`, { hint: USAGE });

  const flags: Flags = {};
  const pos: string[] = [];
  for (let j = i + 1; j < rest.length; j++) {
    const a = rest[j] as string;
    const f = a === "--" ? undefined : flagOf(a);
    if (a === "--") {
      pos.push(...rest.slice(j + 1));
      break;
    }
    if (!f) {
      pos.push(a);
      continue;
    }
    const kind = spec.flags[f.name];
    if (!kind)
      throw new PilotError(
        "invalid_argument",
        f.name === "socket"
          ? "--socket is a global flag: put it before the command"
          : `unknown flag -${f.name} for ${cmd}`,
      );
    if (kind === "bool") flags[f.name] = f.inline === undefined ? true : f.inline !== "false";
    else {
      const value = f.inline ?? rest[++j];
      if (value === undefined)
        throw new PilotError("invalid_argument", `flag needs an argument: --${f.name}`);
      flags[f.name] = value;
    }
  }
  const [min, max] = spec.positionals;
  if (pos.length < min || pos.length > max)
    throw new PilotError(
      "invalid_argument",
      min === 1
        ? `${cmd} needs a node id, address or hostname`
        : `${cmd} takes no arguments (got ${pos.join(" ")})`,
    );
  if (min === 1 && !parseTarget(pos[0] as string))
    throw new PilotError(
      "invalid_argument",
      `${JSON.stringify(pos[0])} is not a node id, address or hostname`,
    );
  return { json, socket, cmd, args: spec.args(pos, flags) };
}
