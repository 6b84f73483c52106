import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync } from "node:fs";
import path from "node:path";
import { Backoff, type Logger, sleep } from "@openclaw-bundle/shared";
import { Pilotctl, type PilotInfo } from "./pilotctl.ts";

/**
 * The Pilot daemon for one account: attached to when one already answers on the socket (the
 * entrypoint supervises its own), started otherwise — with the flags of EXTERNAL-APIS.md
 * section 3, every flag before any argument (Go's flag parser stops at the first one), identity
 * kept in ~/.pilot — and restarted with backoff when the one it started dies.
 */

export const DEFAULT_PILOT_BIN_DIR = "/opt/pilot/bin";
const PILOT_READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const LOG_LINE_MAX = 500;

export interface PilotDaemonOptions {
  /** Folder holding pilot-daemon and pilotctl; PATH is searched when they are not there. */
  binDir?: string;
  socketPath: string;
  /** Rendezvous `host:port`. */
  registry: string;
  beacon?: string;
  port: number;
  publicIp?: string;
  hostname: string;
  /** Home whose `.pilot/identity.json` holds the node's identity. */
  home: string;
  logger: Logger;
  readyTimeoutMs?: number;
}

type DaemonState = "off" | "starting" | "attached" | "running" | "restarting" | "failed";

/** `pilot-daemon` and `pilotctl` from `binDir`, then `/opt/pilot/bin`, then PATH; undefined if absent. */
export function findPilotBins(
  binDir?: string,
  envPath = process.env.PATH ?? "",
): { daemon: string; ctl: string } | undefined {
  const dirs = [
    ...(binDir ? [binDir] : []),
    DEFAULT_PILOT_BIN_DIR,
    ...envPath.split(path.delimiter).filter(Boolean),
  ];
  for (const dir of dirs) {
    const daemon = path.join(dir, "pilot-daemon");
    const ctl = path.join(dir, "pilotctl");
    try {
      accessSync(daemon, constants.X_OK);
      accessSync(ctl, constants.X_OK);
      return { daemon, ctl };
    } catch {}
  }
  return undefined;
}

/** The daemon's argv: flags only, in Go's `-flag value` form. */
export function daemonArgs(o: Omit<PilotDaemonOptions, "logger" | "binDir">): string[] {
  const [host, portText] = splitHostPort(o.registry);
  const beacon = o.beacon ?? `${host}:${Number(portText) + 1}`;
  return [
    "-registry",
    o.registry,
    "-beacon",
    beacon,
    "-listen",
    `:${o.port}`,
    "-identity",
    path.join(o.home, ".pilot", "identity.json"),
    "-hostname",
    o.hostname,
    "-socket",
    o.socketPath,
    "-log-format",
    "json",
    ...(o.publicIp ? ["-endpoint", `${o.publicIp}:${o.port}`] : []),
  ];
}

function splitHostPort(hp: string): [string, string] {
  const i = hp.lastIndexOf(":");
  return i > 0 ? [hp.slice(0, i), hp.slice(i + 1)] : [hp, "9000"];
}

export class PilotDaemon {
  state: DaemonState = "off";
  info: PilotInfo | undefined;
  lastError: string | undefined;
  restarts = 0;
  readonly ctl: Pilotctl | undefined;
  readonly #o: PilotDaemonOptions;
  readonly #bins: { daemon: string; ctl: string } | undefined;
  readonly #backoff = new Backoff({ initialMs: 1_000, maxMs: 60_000 });
  #child: ChildProcess | undefined;
  #stopping = false;

  constructor(o: PilotDaemonOptions) {
    this.#o = o;
    this.#bins = findPilotBins(o.binDir);
    this.ctl = this.#bins
      ? new Pilotctl({ bin: this.#bins.ctl, socketPath: o.socketPath, home: o.home })
      : undefined;
  }

  get installed(): boolean {
    return this.#bins !== undefined;
  }

  get ready(): boolean {
    return this.state === "attached" || this.state === "running";
  }

  /** Process id of the daemon this account started; undefined when attached to another's or off. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Attaches or starts; resolves with the node's info, or undefined when Pilot is not usable. */
  async start(): Promise<PilotInfo | undefined> {
    this.#stopping = false;
    if (!this.ctl || !this.#bins) {
      this.state = "failed";
      this.lastError = `pilot-daemon/pilotctl not found in ${this.#o.binDir ?? DEFAULT_PILOT_BIN_DIR} or PATH`;
      return undefined;
    }
    const existing = await this.ctl.info().catch(() => undefined);
    if (existing) {
      this.info = existing;
      this.state = "attached";
      this.#o.logger.info(`attached to the Pilot daemon on ${this.#o.socketPath} (${existing.address})`);
      return existing;
    }
    return this.#spawn();
  }

  /** Re-checks the daemon; one that went away is attached to again or started anew. */
  async check(): Promise<boolean> {
    if (this.#stopping || !this.ctl) return false;
    if (this.#launching()) return false;
    const info = await this.ctl.info().catch(() => undefined);
    if (this.#stopping) return false; // stopped while asking: starting one now would outlive the stop
    if (info) {
      this.info = info;
      return true;
    }
    // Ours died while we asked: its exit handler restarts it. Starting one here as well ran two
    // daemons on one socket, the second exiting at once, restarted, forever.
    if (this.#child || this.#launching()) return false;
    this.#o.logger.warn("the Pilot daemon stopped answering; starting one");
    return (await this.start()) !== undefined;
  }

  /** A start or restart is under way (read afresh after an await: the exit handler changes it). */
  #launching(): boolean {
    return this.state === "starting" || this.state === "restarting";
  }

  async #spawn(): Promise<PilotInfo | undefined> {
    const bins = this.#bins as { daemon: string };
    this.state = this.restarts > 0 ? "restarting" : "starting";
    mkdirSync(path.join(this.#o.home, ".pilot"), { recursive: true, mode: 0o700 });
    const child = spawn(bins.daemon, daemonArgs(this.#o), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HOME: this.#o.home },
    });
    this.#child = child;
    const log = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n"))
        if (line.trim()) this.#o.logger.debug(`pilot-daemon: ${line.slice(0, LOG_LINE_MAX)}`);
    };
    child.stdout?.on("data", log);
    child.stderr?.on("data", log);
    child.once("error", (err) => {
      this.lastError = `pilot-daemon could not start: ${err.message}`;
    });
    child.once("exit", (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      if (this.#stopping) return;
      this.state = "restarting";
      this.lastError = `pilot-daemon exited (${signal ?? code})`;
      this.restarts++;
      const delay = this.#backoff.next();
      this.#o.logger.warn(`${this.lastError}; restarting in ${Math.round(delay / 1000)} s`);
      // Not when stopped meanwhile, nor when another start already runs one.
      void sleep(delay).then(() => (this.#stopping || this.#child ? undefined : this.#spawn()));
    });
    const info = await this.#waitReady(child);
    if (info) {
      this.info = info;
      this.state = "running";
      this.#backoff.reset();
      this.#o.logger.info(`Pilot daemon running: node ${info.node_id} (${info.address})`);
    }
    return info;
  }

  async #waitReady(child: ChildProcess): Promise<PilotInfo | undefined> {
    const deadline = Date.now() + (this.#o.readyTimeoutMs ?? PILOT_READY_TIMEOUT_MS);
    while (Date.now() < deadline && !this.#stopping && child.exitCode === null && this.#child === child) {
      const info = await this.ctl?.info().catch(() => undefined);
      if (info) return info;
      await sleep(250);
    }
    if (child.exitCode === null && this.#child === child && !this.#stopping) {
      this.lastError = "pilot-daemon did not answer pilotctl info in time";
      child.kill("SIGKILL"); // its exit handler schedules the next try
    }
    return undefined;
  }

  /** Stops the daemon this account started; one it attached to belongs to someone else. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    this.#child = undefined;
    this.state = "off";
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
