import { parseTarget } from "./address.ts";
import { PilotError } from "./errors.ts";
import { checkMessageData } from "./wire.ts";

/**
 * pilotctl's command line and text output, pure (no socket, no process) so it is unit-tested:
 * `pilotctl <command> [args and flags]`, as the real main() reads it: every literal `--json` is
 * removed (it may stand anywhere) and the first remaining word is the command, so there is no
 * global flag: `pilotctl --socket X info` is answered `unknown command: --socket`, exactly as the
 * real CLI answers (upstream-captures). The daemon's socket comes from PILOT_SOCKET, else
 * `~/.pilot/config.json`'s `socket`, else /tmp/pilot.sock. A `--socket` after the command is
 * refused loudly: the real CLI would ignore it and talk to another daemon. Success:
 * `{data,status:"ok"}` on stdout, exit 0; failure: `{code,hint?,message,status:"error"}` on
 * stderr, exit 1; without `--json` the same as text.
 */

export const DEFAULT_SOCKET = "/tmp/pilot.sock";

type Flags = Record<string, string | boolean>;
export interface Command {
  flags: Record<string, "string" | "bool">;
  /** Positional arguments: [min, max]; extra words of the last one join with spaces when max is Infinity. */
  positionals: [number, number];
  args(pos: string[], flags: Flags): Record<string, unknown>;
  text(data: Record<string, unknown>): string;
  /** The real approve/reject/untrust parse their id with ParseUint: no address, no hostname. */
  decimalId?: true;
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
        `Peers:       ${d.peers}`,
        `Uptime:      ${d.uptime_secs}s`,
      ].join("\n"),
  },
  peers: {
    flags: { search: "string" },
    positionals: [0, 0],
    args: (_p, f) => (typeof f.search === "string" ? { search: f.search } : {}),
    text: (d) =>
      rows(
        d.peers,
        (p) => `${p.node_id}  ${p.endpoint ?? "-"}  encrypted authenticated`,
        "no peers connected",
      ),
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
    text: (d) => `sent ${d.bytes} bytes (${d.type}) to ${d.target}${d.ack ? ` (${d.ack})` : ""}`,
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
    // The real CLI takes the word after the id as the justification, and ignores the rest.
    args: (pos) => ({ target: pos[0], justification: pos[1] ?? "" }),
    text: status,
  },
  approve: { flags: {}, positionals: [1, 1], args: targetArgs, text: status, decimalId: true },
  reject: {
    flags: {},
    positionals: [1, Number.POSITIVE_INFINITY],
    args: (pos) => ({ target: pos[0], reason: pos[1] ?? "" }),
    text: status,
    decimalId: true,
  },
  untrust: {
    flags: {},
    positionals: [1, 1],
    args: targetArgs,
    text: (d) => `trust revoked: node ${d.node_id}`,
    decimalId: true,
  },
  trust: {
    flags: {},
    positionals: [0, 0],
    args: () => ({}),
    text: (d) =>
      rows(d.trusted, (t) => `${t.node_id}  ${t.hostname}  approved ${t.approved_at}`, "no trusted peers"),
  },
};

export const USAGE =
  "usage: pilotctl [--json] <command> [args] (the daemon's socket: PILOT_SOCKET)\n" +
  `commands: ${Object.keys(COMMANDS).join(", ")}`;
/** The real CLI's hint for an unknown command. */
export const UNKNOWN_COMMAND_HINT = "run 'pilotctl context' for the full command list";

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

/** The socket pilotctl talks to: PILOT_SOCKET, then `~/.pilot/config.json`, then the default. */
export function socketOf(env: NodeJS.ProcessEnv, config: { socket?: unknown } = {}): string {
  if (env.PILOT_SOCKET) return env.PILOT_SOCKET;
  return typeof config.socket === "string" && config.socket ? config.socket : DEFAULT_SOCKET;
}

/** The command line, or a PilotError (invalid_argument) naming what is wrong with it. */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  config: { socket?: unknown } = {},
): Invocation | { help: true } {
  const json = argv.includes("--json");
  const rest = argv.filter((a) => a !== "--json");
  const socket = socketOf(env, config);
  const cmd = rest[0];
  if (!cmd) throw new PilotError("invalid_argument", "no command given", { hint: USAGE });
  if (cmd === "-h" || cmd === "--help" || cmd === "help") return { help: true };
  const spec = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!spec)
    throw new PilotError("invalid_argument", `unknown command: ${cmd}`, { hint: UNKNOWN_COMMAND_HINT });
  const i = 0;

  const flags: Flags = {};
  const pos: string[] = [];
  for (let j = i + 1; j < rest.length; j++) {
    const a = rest[j] as string;
    // Only `--name` is a flag here (the real parseFlags); `-x` is a positional or a value.
    const f = a === "--" || !a.startsWith("--") ? undefined : flagOf(a);
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
          ? "pilotctl has no --socket flag: the daemon's socket is given in PILOT_SOCKET"
          : `unknown flag -${f.name} for ${cmd}`,
      );
    if (kind === "bool") flags[f.name] = f.inline === undefined ? true : f.inline !== "false";
    else if (f.inline !== undefined) flags[f.name] = f.inline;
    else {
      // As the real parseFlags: a next word starting with "--" is not the value; the flag is "true".
      const next = rest[j + 1];
      if (next === undefined || next.startsWith("--")) flags[f.name] = "true";
      else flags[f.name] = rest[++j] as string;
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
  if (spec.decimalId && !/^\d{1,10}$/.test(pos[0] as string))
    throw new PilotError("invalid_argument", `invalid node_id ${JSON.stringify(pos[0])}`);
  if (min === 1 && !parseTarget(pos[0] as string))
    throw new PilotError(
      "invalid_argument",
      `${JSON.stringify(pos[0])} is not a node id, address or hostname`,
    );
  return { json, socket, cmd, args: spec.args(pos, flags) };
}
