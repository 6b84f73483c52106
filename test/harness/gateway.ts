import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureBuilt } from "../../scripts/build.ts";
import { buildGatewayConfig, type GatewayConfigInput } from "./gateway-config.ts";
import { findNode24, openclawEntry, REPO_ROOT } from "./node24.ts";
import { freePort } from "./ports.ts";
import { GatewayRpc } from "./rpc.ts";
import { budget, waitFor } from "./wait.ts";

/** A quiet two-core machine boots three gateways side by side in under a minute; scaled by load. */
export const READY_TIMEOUT_MS = 120_000;
/** SIGTERM first; a gateway that has not exited by then is SIGKILLed with its whole process group. */
export const STOP_GRACE_MS = 10_000;
/** The host's own startup give-up on a starved machine (OpenClaw's state lease, a fixed 5 s). */
export const HOST_STARTUP_TIMEOUT_MARK = "state lease heartbeat did not become ready";
/** USER_HZ, which /proc reports CPU times in: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface GatewaySpec extends Omit<GatewayConfigInput, "port" | "token" | "logFile"> {
  name: string;
  /** Extra environment for the gateway process (e.g. secrets its config references as ${VAR}). */
  env?: Record<string, string>;
  /**
   * Start through a prepared command instead of a harness-written config: the topology starts
   * each node through entrypoint.sh, which writes the config from the node's env.
   */
  launch?: { command: string[]; env: Record<string, string>; token: string; home: string };
}

const live = new Set<GatewayProcess>();
let exitHookInstalled = false;

/** Last resort: a test runner that dies must not leave 1 GB gateways behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const g of live) g.killNow();
  };
  process.once("exit", killAll);
  // Gateways run in process groups of their own, so a Ctrl-C or a kill of the test runner does
  // not reach them: kill them here, then die of the same signal.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
}

export function runRoot(): string {
  const dir = path.join(REPO_ROOT, ".tmp/gateways", `${Date.now()}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export class GatewayProcess {
  readonly name: string;
  readonly port: number;
  readonly token: string;
  readonly home: string;
  readonly stateDir: string;
  readonly configPath: string;
  readonly logFile: string;
  readonly outFile: string;
  readonly env: Record<string, string>;
  readonly command: string[];
  child: ChildProcess | undefined;
  startedAt = 0;
  readyAfterMs: number | undefined;
  private rpcClient: GatewayRpc | undefined;

  constructor(spec: GatewaySpec, root: string, port: number) {
    this.name = spec.name;
    this.port = port;
    if (spec.launch) {
      this.token = spec.launch.token;
      this.home = spec.launch.home;
      this.stateDir = path.join(this.home, ".openclaw");
      this.configPath = path.join(this.stateDir, "openclaw.json");
      this.logFile = path.join(this.stateDir, "logs/gateway.log");
      this.outFile = path.join(this.home, "gateway.out.log");
      mkdirSync(this.home, { recursive: true, mode: 0o700 });
      this.env = spec.launch.env;
      this.command = spec.launch.command;
      return;
    }
    this.token = `test-${randomBytes(12).toString("hex")}`;
    this.home = path.join(root, spec.name);
    this.stateDir = path.join(this.home, ".openclaw");
    this.configPath = path.join(this.stateDir, "openclaw.json");
    this.logFile = path.join(this.home, "openclaw.log");
    this.outFile = path.join(this.home, "gateway.out.log");
    this.command = [openclawEntry(), "gateway", "run", "--port", String(port), "--bind", "loopback"];
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const config = buildGatewayConfig({ ...spec, port, token: this.token, logFile: this.logFile });
    writeFileSync(this.configPath, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    this.env = {
      PATH: `${path.dirname(findNode24())}:${process.env.PATH ?? ""}`,
      HOME: this.home,
      OPENCLAW_STATE_DIR: this.stateDir,
      OPENCLAW_CONFIG_PATH: this.configPath,
      OPENCLAW_DISABLE_BONJOUR: "1",
      OPENCLAW_NO_RESPAWN: "1",
      OPENCLAW_NO_AUTO_UPDATE: "1",
      ...spec.env,
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /**
   * Starts the process; resolves once it answers /readyz. A start the host itself gave up on
   * because the machine was too busy (HOST_STARTUP_TIMEOUT_MARK, a fixed 5 s inside OpenClaw,
   * seen at load 15-40 before any plugin loads) is tried once more, and says so on stderr.
   */
  async start(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    try {
      await this.startOnce(timeoutMs);
    } catch (err) {
      if (!this.logTail(200).includes(HOST_STARTUP_TIMEOUT_MARK)) throw err;
      process.stderr.write(
        `gateway ${this.name}: the host gave up starting ("${HOST_STARTUP_TIMEOUT_MARK}"); starting it once more\n`,
      );
      this.killGroup("SIGKILL");
      await this.startOnce(timeoutMs);
    }
  }

  private async startOnce(timeoutMs: number): Promise<void> {
    installExitHook();
    const out = createWriteStream(this.outFile, { flags: "a" });
    this.startedAt = Date.now();
    // detached: the gateway becomes a process-group leader, so stop() can kill the helpers it
    // spawns too (it runs a spawn broker and workers).
    const [bin, ...args] = this.command[0]?.endsWith(".mjs") ? [findNode24(), ...this.command] : this.command;
    const child = spawn(bin as string, args, {
      env: this.env,
      cwd: this.home,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    live.add(this);
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.once("exit", () => live.delete(this));
    await this.waitReady(timeoutMs);
    this.readyAfterMs = Date.now() - this.startedAt;
  }

  /** Until /readyz answers 200; fails at once when the process exits, else after the budget. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    try {
      await waitFor(
        `gateway ${this.name} /readyz to answer 200`,
        async () => {
          const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5000) });
          return { status: res.status, body: (await res.text()).slice(0, 500) };
        },
        (r) => r.status === 200,
        {
          ms: timeoutMs,
          failIf: () => {
            const code = this.child?.exitCode ?? this.child?.signalCode;
            return code !== null && code !== undefined ? `the process exited (${code})` : undefined;
          },
        },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.logTail()}`);
    }
  }

  /** Calls a gateway method over the WebSocket RPC (one connection per gateway, reused). */
  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (!this.rpcClient)
      this.rpcClient = new GatewayRpc(this.wsUrl, this.token, path.join(this.home, "rpc-client"));
    return this.rpcClient.call<T>(method, params);
  }

  /** POSTs to the gateway's HTTP API with its token. */
  async post(pathname: string, body: unknown, timeoutMs = budget(120_000)): Promise<Response> {
    return fetch(`${this.url}${pathname}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.token}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  /** Resident memory of the gateway and its children, in kB (Linux /proc). */
  rssKb(): number {
    const pid = this.child?.pid;
    if (!pid) return 0;
    let total = 0;
    for (const p of [pid, ...childPids(pid)]) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
        total += m ? Number(m[1]) : 0;
      } catch {
        // exited meanwhile
      }
    }
    return total;
  }

  /**
   * CPU time the gateway and its children have used so far, in ms (Linux /proc: user + system,
   * with the children it has already reaped).
   */
  cpuMs(): number {
    const pid = this.child?.pid;
    if (!pid) return 0;
    let ticks = 0;
    for (const p of [pid, ...childPids(pid)]) {
      try {
        // Fields after the command name, which may itself hold spaces and parentheses.
        const stat = readFileSync(`/proc/${p}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // utime, stime, cutime, cstime are fields 14-17 of the full line: 11-14 of the rest.
        ticks += [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
      } catch {
        // exited meanwhile
      }
    }
    return ticks * (1000 / CLOCK_TICKS_PER_SECOND);
  }

  logTail(lines = 80): string {
    const read = (f: string) => {
      try {
        return readFileSync(f, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "(none)";
      }
    };
    return `--- ${this.name} stdout/stderr (${this.outFile}) ---\n${read(this.outFile)}`;
  }

  /** SIGTERM, then SIGKILL of the whole process group after STOP_GRACE_MS (scaled). Idempotent. */
  async stop(
    graceMs = budget(STOP_GRACE_MS),
  ): Promise<{ exitCode: number | null; signal: string | null; ms: number }> {
    await this.rpcClient?.close();
    this.rpcClient = undefined;
    const child = this.child;
    const t0 = Date.now();
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.killGroup("SIGKILL");
      return { exitCode: child?.exitCode ?? null, signal: child?.signalCode ?? null, ms: 0 };
    }
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    this.killGroup("SIGTERM", false);
    const timer = setTimeout(() => this.killGroup("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
    // Helpers the gateway spawned must not outlive it.
    this.killGroup("SIGKILL");
    return { exitCode: child.exitCode, signal: child.signalCode, ms: Date.now() - t0 };
  }

  /** Simulates a crash: SIGKILL to the whole group, no chance to clean up. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    this.killGroup("SIGKILL");
    await exited;
  }

  killNow(): void {
    this.killGroup("SIGKILL");
  }

  private killGroup(signal: NodeJS.Signals, group = true): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      process.kill(group ? -pid : pid, signal);
    } catch {
      // already gone
    }
  }
}

function childPids(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return kids.flatMap((k) => [Number(k), ...childPids(Number(k))]);
  } catch {
    return [];
  }
}

/** Starts gateways in parallel; if any fails, stops the rest and rethrows. */
export async function startGateways(
  specs: Array<GatewaySpec & { port?: number }>,
  root = runRoot(),
): Promise<GatewayProcess[]> {
  // Gateways load the compiled extensions, as the image does: build what a source change made stale.
  // Always, not only for specs that name extensions: the topology's nodes get theirs from
  // entrypoint.sh, and a clean clone has no dist at all (the host then refuses the config).
  await ensureBuilt();
  const gateways: GatewayProcess[] = [];
  for (const spec of specs) gateways.push(new GatewayProcess(spec, root, spec.port ?? (await freePort())));
  const results = await Promise.allSettled(gateways.map((g) => g.start()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    await Promise.all(gateways.map((g) => g.stop()));
    throw failed.reason;
  }
  return gateways;
}

export async function stopGateways(gateways: GatewayProcess[]): Promise<void> {
  await Promise.all(gateways.map((g) => g.stop()));
}
