import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { budget } from "../../../../test/harness/wait.ts";
import { type MockRegistry, startMockRegistry } from "../../../../test/mocks/registry/server.ts";
import { formatAddress } from "./address.ts";
import {
  DEFAULT_PILOT_BIN_DIR,
  daemonArgs,
  findPilotBins,
  PilotDaemon,
  type PilotDaemonOptions,
} from "./daemon.ts";

/**
 * A Pilot installed at /opt/pilot/bin is found before any test folder, so "not installed" cannot
 * be shown on such a machine: skipped there, saying so, except in CI, where it must run.
 */
function pilotInstalledHere(): boolean {
  if (!existsSync(DEFAULT_PILOT_BIN_DIR) || process.env.CI === "true") return false;
  process.stdout.write("skipped a 'Pilot not installed' test: /opt/pilot/bin exists on this machine\n");
  return true;
}

// The daemon supervisor driving the Pilot stand-in (test/mocks/pilot) against the rendezvous the
// mock registry serves under /_pilot: real processes, real sockets, real identity files.

const BIN = path.resolve(import.meta.dirname, "../../../../test/mocks/pilot/bin");
const tmp = mkdtempSync(path.join(os.tmpdir(), "pilot-daemon-"));
const lines: string[] = [];
const keep = (m: string) => void lines.push(m.replace(/^\[test\] /, ""));
const logger = createLogger({
  extension: "test",
  level: "debug",
  sink: { debug: keep, info: keep, warn: keep, error: keep },
});
const savedPath = process.env.PATH;
let registry: MockRegistry;
const daemons: PilotDaemon[] = [];

beforeAll(async () => {
  // The stand-in's wrappers run `node`: this one (Node 24, type stripping) first on PATH.
  process.env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${savedPath ?? ""}`;
  registry = await startMockRegistry();
});
afterEach(async () => {
  for (const d of daemons.splice(0).reverse()) await d.stop();
  lines.length = 0;
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await registry?.close();
  rmSync(tmp, { recursive: true, force: true });
});

let homes = 0;
/** A supervisor with its own home and socket (or another's, to attach), stopped after the test. */
function daemon(over: Partial<PilotDaemonOptions> = {}) {
  const home = path.join(tmp, `home-${++homes}`);
  const o = {
    binDir: BIN,
    socketPath: path.join(home, "pilot.sock"),
    registry: `127.0.0.1:${registry.port}`,
    port: 4000,
    hostname: `agent-${homes}`,
    home,
    logger,
    ...over,
  };
  const d = new PilotDaemon(o);
  daemons.push(d);
  return { d, o };
}

/** A folder with a pilot-daemon of the given script and the stand-in's pilotctl. */
function binDirWith(script: string): string {
  const dir = mkdtempSync(path.join(tmp, "bin-"));
  writeFileSync(path.join(dir, "pilot-daemon"), `#!/bin/sh\n${script}\n`);
  chmodSync(path.join(dir, "pilot-daemon"), 0o755);
  symlinkSync(path.join(BIN, "pilotctl"), path.join(dir, "pilotctl"));
  return dir;
}

describe("finding and calling pilot-daemon", () => {
  it("takes both binaries from binDir, else from PATH, skipping a folder that has only one", () => {
    expect(findPilotBins(BIN, "")).toEqual({
      daemon: path.join(BIN, "pilot-daemon"),
      ctl: path.join(BIN, "pilotctl"),
    });
    const half = path.join(tmp, "half");
    mkdirSync(half, { recursive: true });
    writeFileSync(path.join(half, "pilot-daemon"), "#!/bin/sh\n", { mode: 0o755 });
    expect(findPilotBins(half, ["/nonexistent", BIN].join(path.delimiter))?.ctl).toBe(
      path.join(BIN, "pilotctl"),
    );
  });

  it("passes every flag before any argument, the beacon defaulting to the registry port + 1", () => {
    const o = {
      socketPath: "/s.sock",
      registry: "reg.example:9000",
      port: 4001,
      hostname: "alpha",
      home: "/h",
    };
    expect(daemonArgs(o)).toEqual([
      "-registry",
      "reg.example:9000",
      "-beacon",
      "reg.example:9001",
      "-listen",
      ":4001",
      "-identity",
      "/h/.pilot/identity.json",
      "-hostname",
      "alpha",
      "-socket",
      "/s.sock",
      "-log-format",
      "json",
    ]);
    const fixed = daemonArgs({ ...o, registry: "reg.example", beacon: "b.example:1", publicIp: "192.0.2.7" });
    expect(fixed.slice(0, 4)).toEqual(["-registry", "reg.example", "-beacon", "b.example:1"]);
    expect(fixed.slice(-2)).toEqual(["-endpoint", "192.0.2.7:4001"]);
    expect(daemonArgs({ ...o, registry: "reg.example" })[3]).toBe("reg.example:9001");
  });

  it.skipIf(pilotInstalledHere())("fails, naming where it looked, when Pilot is not installed", async () => {
    const empty = mkdtempSync(path.join(tmp, "empty-"));
    const path0 = process.env.PATH;
    process.env.PATH = "";
    const { d } = daemon({ binDir: empty });
    process.env.PATH = path0;
    expect(d.installed).toBe(false);
    expect(await d.start()).toBeUndefined();
    expect(d.state).toBe("failed");
    expect(d.lastError).toBe(`pilot-daemon/pilotctl not found in ${empty} or PATH`);
    expect(await d.check()).toBe(false);
  });
});

// Each pilotctl call starts a node process (about a second on a busy machine): generous timeouts.
describe("running pilot-daemon", { timeout: 60_000 }, () => {
  it("starts the daemon, waits until it answers, and stops it with SIGTERM", async () => {
    const { d, o } = daemon({ publicIp: "192.0.2.7" });
    const info = await d.start();
    expect(d.state).toBe("running");
    expect(d.ready).toBe(true);
    expect(info).toMatchObject({
      hostname: o.hostname,
      address: formatAddress(info?.node_id ?? 0),
    });
    expect(existsSync(path.join(o.home, ".pilot", "identity.json"))).toBe(true);
    expect(lines).toContain(`Pilot daemon running: node ${info?.node_id} (${info?.address})`);
    expect(await d.check()).toBe(true);
    await d.stop();
    await d.stop();
    expect(d.state).toBe("off");
    expect(existsSync(o.socketPath)).toBe(false);
  });

  it("attaches to a daemon already on the socket, leaves it running, and starts one when it is gone", async () => {
    const first = daemon();
    const info = await first.d.start();
    const { d: second } = daemon({ socketPath: first.o.socketPath, home: first.o.home });
    expect((await second.start())?.node_id).toBe(info?.node_id);
    expect(second.state).toBe("attached");
    expect(second.pid).toBeUndefined();
    await second.stop();
    expect((await first.d.ctl?.info())?.node_id).toBe(info?.node_id);

    await second.start();
    await first.d.stop();
    expect(await second.check()).toBe(true);
    expect(second.state).toBe("running");
    expect(second.pid).toEqual(expect.any(Number));
    expect(second.info?.node_id).toBe(info?.node_id); // same home, same identity
    expect(lines).toContain("the Pilot daemon stopped answering; starting one");
  });

  it("starts nothing when stopped while a check is still asking", async () => {
    const { d } = daemon();
    const checking = d.check();
    await d.stop();
    expect(await checking).toBe(false);
    expect(d.state).toBe("off");
    expect(d.pid).toBeUndefined();
    await expect(d.ctl?.info()).rejects.toMatchObject({ code: "PILOT_ERR_NOT_RUNNING" });
  });

  it("restarts the daemon it started when it dies, keeping its node id, and leaves it alone once healthy", async () => {
    const { d } = daemon();
    const info = await d.start();
    const killed = d.pid;
    process.kill(killed as number, "SIGKILL");
    await expect.poll(() => d.restarts, { timeout: budget(10_000) }).toBe(1);
    expect(d.lastError).toBe("pilot-daemon exited (SIGKILL)");
    await expect.poll(() => d.state, { timeout: budget(15_000) }).toBe("running");
    expect(d.info?.node_id).toBe(info?.node_id);
    const pid = d.pid;
    expect(pid).not.toBe(killed);
    // Healthy: every check passes and nothing kills or restarts it (with pilotctl answering
    // "unknown command: --socket", the readiness wait failed and killed it, again and again).
    expect(await d.check()).toBe(true);
    expect(await d.check()).toBe(true);
    await new Promise((r) => setTimeout(r, 1_500));
    expect({ restarts: d.restarts, pid: d.pid, state: d.state }).toEqual({
      restarts: 1,
      pid,
      state: "running",
    });
  });

  it("starts no second daemon when its own dies while a check is asking", async () => {
    const { d } = daemon();
    await d.start();
    const ctl = d.ctl as NonNullable<typeof d.ctl>;
    const realInfo = ctl.info.bind(ctl);
    let fail: (e: Error) => void = () => {};
    // The check's question is slow (a loaded machine); the daemon dies before it is answered.
    ctl.info = () => new Promise((_, reject) => (fail = reject));
    const checking = d.check();
    process.kill(d.pid as number, "SIGKILL");
    await expect.poll(() => d.restarts, { timeout: 30_000 }).toBe(1);
    ctl.info = realInfo;
    fail(new Error("no daemon is running"));
    expect(await checking).toBe(false);
    await expect.poll(() => d.state, { timeout: 30_000 }).toBe("running");
    // A second daemon on the same socket would exit 1 at once and count as another restart.
    await new Promise((r) => setTimeout(r, 1500));
    expect(d.restarts).toBe(1);
    expect(lines.filter((l) => l.includes("starting one"))).toEqual([]);
  }, 90_000);

  it("kills a daemon that never answers after the ready timeout, and retries until stopped", async () => {
    const { d } = daemon({ binDir: binDirWith("exec sleep 30"), readyTimeoutMs: 500 });
    expect(await d.start()).toBeUndefined();
    await expect.poll(() => d.restarts, { timeout: 5000 }).toBe(1);
    expect(d.state).toBe("restarting");
    expect(d.lastError).toBe("pilot-daemon exited (SIGKILL)");
    expect(lines.some((l) => /^pilot-daemon exited \(SIGKILL\); restarting in \d+ s$/.test(l))).toBe(true);
    await d.stop();
    expect(d.state).toBe("off");
  });

  it("reports a daemon that exits at once with its code and what it printed", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const { d } = daemon({ registry: `127.0.0.1:${deadPort}` });
    expect(await d.start()).toBeUndefined();
    expect(d).toMatchObject({ state: "restarting", restarts: 1, lastError: "pilot-daemon exited (1)" });
    expect(
      lines.some((l) => l.startsWith("pilot-daemon: ") && /cannot register with the rendezvous/.test(l)),
    ).toBe(true);
  });
});
