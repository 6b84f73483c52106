import fs from "node:fs";
import type { Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { hostnameProblem, parseHostPort } from "./address.ts";
import { createHandler, type DaemonContext } from "./commands.ts";
import { loadOrCreateIdentity, saveNodeId } from "./files.ts";
import { type FlagSpec, parseGoFlags, usage } from "./flags.ts";
import { serveIpc, socketAlive } from "./ipc.ts";
import { createLog, type LogFormat } from "./log.ts";
import { DEFAULT_POLL_MS, QueuePoller } from "./poller.ts";
import { RendezvousClient } from "./rendezvous-client.ts";
import { PilotState } from "./state.ts";

/**
 * pilot-daemon, the stand-in: loads or creates the node's identity, registers with the rendezvous
 * (`-registry`), serves pilotctl on the IPC socket and polls the rendezvous for messages and trust
 * events. Like the real one it dies (exit 1) when the rendezvous cannot be reached at start, and
 * rides out an outage once running. No UDP is bound: `-listen` and `-endpoint` are recorded and
 * reported, since traffic between stand-ins goes through the rendezvous.
 */

const SPECS: Record<string, FlagSpec> = {
  registry: { arg: "host:port", usage: "rendezvous (registry) server address; required" },
  beacon: { arg: "host:port", usage: "beacon server address (checked, otherwise unused by the stand-in)" },
  listen: { arg: ":port", usage: "UDP listen address (recorded, not bound)", default: ":0" },
  endpoint: { arg: "ip:port", usage: "fixed public endpoint, skipping STUN" },
  identity: { arg: "path", usage: "identity file (default $HOME/.pilot/identity.json)" },
  hostname: { arg: "name", usage: "hostname for discovery (lowercase alphanumeric + hyphens, max 63 chars)" },
  owner: { arg: "owner", usage: "owner identifier sent at registration" },
  socket: { arg: "path", usage: "IPC socket path", default: "/tmp/pilot.sock" },
  "log-format": { arg: "text|json", usage: "log line format", default: "text" },
};

function exitUsage(message: string): never {
  process.stderr.write(`${message ? `${message}\n` : ""}${usage("pilot-daemon", SPECS)}`);
  process.exit(message ? 2 : 0);
}

interface Options {
  registry: string;
  listenPort: number;
  endpoint: string | null;
  identity: string;
  hostname?: string;
  owner?: string;
  socket: string;
  logFormat: LogFormat;
  pollMs: number;
}

/** The command line (Go flag rules) checked up front: any problem is usage and exit 2. */
function options(argv: string[]): Options {
  const r = parseGoFlags(argv, SPECS);
  if (!r.ok) exitUsage(r.help ? "" : r.message);
  const v = r.values;
  const registry = v.get("registry");
  if (!registry) exitUsage("-registry is required");
  if (!parseHostPort(registry)) exitUsage(`-registry must be host:port (got ${JSON.stringify(registry)})`);
  const beacon = v.get("beacon");
  if (beacon !== undefined && !parseHostPort(beacon))
    exitUsage(`-beacon must be host:port (got ${JSON.stringify(beacon)})`);
  const listen = /^[^:]*:(\d{1,5})$/.exec(v.get("listen") as string);
  const listenPort = Number(listen?.[1]);
  if (!listen || listenPort > 65535)
    exitUsage(`-listen must be [host]:port (got ${JSON.stringify(v.get("listen"))})`);
  const endpoint = v.get("endpoint");
  if (endpoint !== undefined && !parseHostPort(endpoint))
    exitUsage(`-endpoint must be ip:port (got ${JSON.stringify(endpoint)})`);
  const hostname = v.get("hostname") || undefined;
  const logFormat = v.get("log-format");
  if (logFormat !== "text" && logFormat !== "json")
    exitUsage(`-log-format must be text or json (got ${JSON.stringify(logFormat)})`);
  const pollEnv = process.env.PILOT_STANDIN_POLL_MS;
  const pollMs = pollEnv ? Number(pollEnv) : DEFAULT_POLL_MS;
  if (!Number.isInteger(pollMs) || pollMs < 10 || pollMs > 60_000)
    exitUsage(`PILOT_STANDIN_POLL_MS must be an integer 10-60000 (got ${JSON.stringify(pollEnv)})`);
  return {
    registry,
    listenPort,
    endpoint: endpoint ?? null,
    identity: v.get("identity") ?? path.join(os.homedir(), ".pilot", "identity.json"),
    hostname,
    owner: v.get("owner") || undefined,
    socket: v.get("socket") as string,
    logFormat,
    pollMs,
  };
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const log = createLog(opts.logFormat);
  const fatal = (msg: string, fields: Record<string, unknown>): never => {
    log("error", msg, fields);
    process.exit(1);
  };

  // Handlers first: a stop during start-up is a clean one too, and removes only a socket we made.
  let poller: QueuePoller | undefined;
  let server: Server | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    poller?.stop();
    if (server) {
      server.close();
      fs.rmSync(opts.socket, { force: true });
    }
    log("info", "daemon stopped", { signal });
    process.exit(0);
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));

  let identity: ReturnType<typeof loadOrCreateIdentity>;
  let state: PilotState;
  try {
    identity = loadOrCreateIdentity(opts.identity);
    state = new PilotState(path.join(os.homedir(), ".pilot"));
  } catch (err) {
    return fatal("cannot load the node's files", { error: (err as Error).message });
  }
  if (await socketAlive(opts.socket))
    fatal("a daemon is already running on the socket", { socket: opts.socket });
  // Nothing answers on it: a socket file left by a killed daemon.
  fs.rmSync(opts.socket, { force: true });

  // The real daemon does not refuse a bad -hostname: the registry does, and it runs without one.
  const badHostname = opts.hostname === undefined ? undefined : hostnameProblem(opts.hostname);
  if (badHostname) log("warn", "failed to set hostname", { hostname: opts.hostname, error: badHostname });
  const client = new RendezvousClient(opts.registry, identity, {
    hostname: badHostname ? undefined : opts.hostname,
    endpoint: opts.endpoint,
    listenPort: opts.listenPort,
    email: opts.owner,
    trusted: () => state.trust().map((p) => p.node_id),
    onRegistered(self) {
      saveNodeId(identity, self.node_id);
      poller?.reset();
      log("info", "registered with the rendezvous", { node_id: self.node_id, address: self.address });
    },
  });
  try {
    await client.register();
  } catch (err) {
    fatal("cannot register with the rendezvous", { registry: opts.registry, error: (err as Error).message });
  }

  poller = new QueuePoller(client, state, log, opts.pollMs);
  const ctx: DaemonContext = {
    state,
    client,
    startedAt: Date.now(),
    endpoint: opts.endpoint,
    listenPort: opts.listenPort,
    owner: opts.owner,
    log,
  };
  server = await serveIpc(opts.socket, createHandler(ctx)).catch((err: Error) =>
    fatal("cannot serve the IPC socket", { socket: opts.socket, error: err.message }),
  );
  poller.start();
  log("info", "daemon started", {
    socket: opts.socket,
    hostname: client.self?.hostname,
    listen_port: opts.listenPort,
    endpoint: opts.endpoint,
  });
}

void main();
