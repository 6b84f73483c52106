// biome-ignore-all lint/suspicious/noExplicitAny: the tests read deep paths of plain JSON
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import type { Server } from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRendezvous, type Rendezvous } from "./rendezvous.ts";
import { formatAddress, parseAddress } from "./src/address.ts";
import { parseCommandLine } from "./src/ctl-args.ts";

// The Pilot stand-in honours the pilotctl/pilot-daemon contract of EXTERNAL-APIS.md section 3:
// two daemons with their own HOME and socket, driven only through the pilotctl binary.

const BIN = path.join(import.meta.dirname, "bin");
const DAEMON = path.join(BIN, "pilot-daemon");
const CTL = path.join(BIN, "pilotctl");
// The wrappers run `node`: the one running the tests (Node 24) comes first on PATH.
const PATH = `${path.dirname(process.execPath)}:${process.env.PATH}`;

let rendezvous: Rendezvous;
let server: Server;
let port = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pilot-standin-"));
const procs = new Set<ChildProcess>();

interface Daemon {
  name: string;
  home: string;
  socket: string;
  proc: ChildProcess;
  out: string[];
}

function spawnDaemon(args: string[], home: string) {
  const proc = spawn(DAEMON, args, { env: { PATH, HOME: home, PILOT_STANDIN_POLL_MS: "50" } });
  procs.add(proc);
  proc.on("exit", () => procs.delete(proc));
  const out: string[] = [];
  proc.stdout?.on("data", (b: Buffer) => out.push(b.toString()));
  proc.stderr?.on("data", (b: Buffer) => out.push(b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return { proc, out, exited };
}

/** Starts a daemon and waits for its "daemon started" line (or fails with what it printed). */
async function startDaemon(name: string, extra: string[] = [], home = path.join(tmp, name)): Promise<Daemon> {
  fs.mkdirSync(home, { recursive: true });
  const socket = path.join(home, "pilot.sock");
  const args = ["-registry", `127.0.0.1:${port}`, "--beacon", `127.0.0.1:${port + 1}`, "-listen=:4000"];
  const { proc, out, exited } = spawnDaemon(
    [...args, "-hostname", name, "-socket", socket, "-log-format", "json", ...extra],
    home,
  );
  const started = new Promise<void>((resolve) =>
    proc.stdout?.on("data", () => out.join("").includes('"msg":"daemon started"') && resolve()),
  );
  const r = await Promise.race([started.then(() => "up" as const), exited]);
  if (r !== "up") throw new Error(`${name} exited ${r}: ${out.join("")}`);
  return { name, home, socket, proc, out };
}

type Run = { code: number; stdout: string; stderr: string };
function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) =>
    execFile(file, args, { env: { PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
// As the real pilotctl: the socket in PILOT_SOCKET, and the daemon's HOME (inbox is read from it).
const ctl = (d: Daemon, ...args: string[]) => run(CTL, args, { PILOT_SOCKET: d.socket, HOME: d.home });
/** `--json` run that must succeed: its `data`. */
async function ok(d: Daemon, ...args: string[]): Promise<any> {
  const r = await ctl(d, "--json", ...args);
  expect(r.code, r.stderr).toBe(0);
  const env = JSON.parse(r.stdout);
  expect(env.status).toBe("ok");
  return env.data;
}
/** `--json` run that must fail: the error envelope from stderr. */
async function err(d: Daemon, ...args: string[]): Promise<any> {
  const r = await ctl(d, "--json", ...args);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  return JSON.parse(r.stderr);
}
async function eventually<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));
const mode = (file: string) => fs.statSync(file).mode & 0o777;

let alice: Daemon;
let bob: Daemon;
let aliceId = 0;
let bobId = 0;
// The registry's router can be swapped for a fresh rendezvous: a registry restart without state.
let current: Rendezvous;

beforeAll(async () => {
  rendezvous = createRendezvous();
  current = rendezvous;
  const app = express();
  app.use("/_pilot", (req, res, next) => current.router(req, res, next));
  server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  port = (server.address() as net.AddressInfo).port;
  [alice, bob] = await Promise.all([
    startDaemon("alice", ["-endpoint", "192.0.2.10:4000", "-owner", "a@example.test"]),
    startDaemon("bob"),
  ]);
}, 30_000);

afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  current.shutdown();
  rendezvous.shutdown();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("pilot stand-in: identity, envelopes and errors", () => {
  it("reports info in the ok envelope, with an address carrying the whole 32-bit node id", async () => {
    const info = await ok(alice, "info");
    aliceId = info.node_id;
    bobId = (await ok(bob, "info")).node_id;
    expect(aliceId).toBeGreaterThan(0xffff);
    expect(info.address).toBe(formatAddress(aliceId));
    const [hi, lo] = info.address.split(":")[1].split(".").slice(1);
    expect(Number.parseInt(hi, 16) * 0x10000 + Number.parseInt(lo, 16)).toBe(aliceId);
    expect(info).toMatchObject({ hostname: "alice", peers: 0, owner: "a@example.test" });
    expect(Buffer.from(info.public_key, "base64")).toHaveLength(32);
    expect(info.uptime_secs).toBeGreaterThanOrEqual(0);
    expect(rendezvous.nodes().map((n) => n.hostname)).toEqual(expect.arrayContaining(["alice", "bob"]));
    // Identity and state files are private.
    expect(readJson(path.join(alice.home, ".pilot/identity.json")).node_id).toBe(aliceId);
    expect(mode(path.join(alice.home, ".pilot/identity.json"))).toBe(0o600);
    expect(mode(path.join(alice.home, ".pilot"))).toBe(0o700);
  });

  it("accepts --json anywhere, finds the daemon through PILOT_SOCKET, and prints text without --json", async () => {
    const a = await ctl(alice, "--json", "info");
    const b = await ctl(alice, "info", "--json");
    expect(JSON.parse(a.stdout).data.node_id).toBe(aliceId);
    expect(JSON.parse(b.stdout).data.node_id).toBe(aliceId);
    // ~/.pilot/config.json's socket is the fallback, as for the real CLI.
    const home = path.join(tmp, "config-home");
    fs.mkdirSync(path.join(home, ".pilot"), { recursive: true });
    fs.writeFileSync(path.join(home, ".pilot/config.json"), JSON.stringify({ socket: alice.socket }));
    const viaConfig = await run(CTL, ["info", "--json"], { HOME: home });
    expect(JSON.parse(viaConfig.stdout).data.node_id).toBe(aliceId);
    const text = await ctl(alice, "info");
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Address:     ${formatAddress(aliceId)}`);
  });

  it("fails with the error envelope on stderr and exit 1", async () => {
    const none = { ...alice, socket: path.join(tmp, "nobody.sock") };
    expect(await err(none, "info")).toMatchObject({ status: "error", code: "not_running" });
    expect(await err(alice, "send-message", "bob")).toMatchObject({ code: "invalid_argument" });
    expect(await err(alice, "send-message", "bob", "--type", "json", "--data", "{nope")).toMatchObject({
      code: "invalid_argument",
    });
    expect(await err(alice, "frobnicate")).toMatchObject({ code: "invalid_argument" });
    expect((await err(alice, "info", "--socket", alice.socket)).message).toMatch(/no --socket flag/);
    expect(await err(alice, "handshake", "nobody-here")).toMatchObject({ code: "not_found" });
    const text = await ctl(none, "info");
    expect(text.code).toBe(1);
    expect(text.stderr).toBe(
      "error: daemon is not running\nhint:  start the daemon with: pilotctl daemon start\n",
    );
  });

  it("answers a leading --socket as the real pilotctl does: unknown command, exit 1", async () => {
    // The recorded answer (upstream-captures/pilotctl-outputs.json, unknown_socket_flag), byte for byte.
    const r = await run(CTL, ["--json", "--socket", alice.socket, "info"], { HOME: alice.home });
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        '{"code":"invalid_argument","hint":"run \'pilotctl context\' for the full command list","message":"unknown command: --socket","status":"error"}\n',
    });
  });

  it("answers empty lists and a missing inbox as the real CLI does", async () => {
    expect(await ok(bob, "peers")).toEqual({ peers: null, total: 0 });
    // No inbox folder yet: an empty list (not null), and --clear is not_found.
    expect(await ok(bob, "inbox")).toEqual({ messages: [], total: 0 });
    expect(await err(bob, "inbox", "--clear")).toEqual({
      status: "error",
      code: "not_found",
      message: "inbox is empty",
    });
    expect(await ok(bob, "pending")).toEqual({ pending: [] });
  });

  it("refuses data to a node without mutual trust", async () => {
    expect(await err(alice, "send-message", "bob", "--data", "hi")).toEqual({
      status: "error",
      code: "connection_failed",
      message: expect.any(String),
      hint: "run pilotctl handshake <id> first and wait for approval",
    });
  });
});

// Each pilotctl call starts a node process: seconds apiece on a loaded machine.
describe("pilot stand-in: trust and messages", { timeout: 180_000 }, () => {
  it("handshake -> pending -> approve makes trust mutual, and messages arrive by hostname", async () => {
    expect(await ok(alice, "handshake", "bob", "hello from alice", "ignored")).toEqual({
      status: "sent",
      node_id: bobId,
    });
    const pending = await eventually(async () => {
      const p = (await ok(bob, "pending")).pending;
      expect(p).toHaveLength(1);
      return p[0];
    });
    expect(readJson(path.join(bob.home, ".pilot/pending.json")).pending).toMatchObject([
      { node_id: aliceId },
    ]);
    expect(pending).toEqual({
      node_id: aliceId,
      public_key: (await ok(alice, "info")).public_key,
      justification: "hello from alice",
      received_at: expect.any(Number), // Unix seconds, as the real daemon answers
    });
    expect(Math.abs(pending.received_at - Date.now() / 1000)).toBeLessThan(60);
    expect(await err(bob, "approve", formatAddress(aliceId))).toMatchObject({ code: "invalid_argument" });
    expect(await ok(bob, "approve", String(aliceId))).toEqual({
      status: "approved",
      node_id: aliceId,
    });
    expect((await ok(bob, "pending")).pending).toEqual([]);
    await eventually(async () =>
      expect((await ok(alice, "trust")).trusted).toMatchObject([{ node_id: bobId }]),
    );
    expect(readJson(path.join(bob.home, ".pilot/trust.json")).trusted).toMatchObject([{ node_id: aliceId }]);
    expect(await ok(alice, "peers", "--search", "bo")).toEqual({
      peers: [{ node_id: bobId, endpoint: null, encrypted: true, authenticated: true }],
      total: 1,
    });
    expect((await ok(bob, "peers")).peers[0].endpoint).toBe("192.0.2.10:4000");

    expect(await ok(alice, "send-message", "bob", "--data", "héllo")).toEqual({
      target: formatAddress(bobId),
      type: "text",
      bytes: 6,
      ack: "ACK TEXT 6 bytes",
    });
    await ok(alice, "--json", "send-message", String(bobId), "--type=json", "--data", '{"n":1}');
    const inbox = await eventually(async () => {
      const r = await ok(bob, "inbox");
      expect(r.total).toBe(2);
      return r;
    });
    // The real daemon's files: TYPE-stamped names (JSON sorts first), RFC 3339 seconds.
    expect(inbox.messages[1]).toEqual({
      type: "TEXT",
      from: formatAddress(aliceId),
      data: "héllo",
      bytes: 6,
      received_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    });
    expect(inbox.messages[0]).toMatchObject({ type: "JSON", data: '{"n":1}' });
    expect(inbox.dir).toBe(path.join(bob.home, ".pilot/inbox"));
    expect(fs.readdirSync(path.join(bob.home, ".pilot/inbox"))).toHaveLength(2);
    expect(await ok(bob, "inbox", "--clear")).toEqual({ cleared: 2 });
    // An emptied inbox lists as null (Go's nil slice), as the real CLI prints it.
    expect(await ok(bob, "inbox")).toEqual({ dir: inbox.dir, messages: null, total: 0 });
  });

  it("keeps running through a rendezvous outage and delivers once it is back", async () => {
    rendezvous.setAvailable(false);
    expect(await err(alice, "send-message", "bob", "--data", "lost?")).toMatchObject({
      code: "connection_failed",
    });
    expect((await ok(alice, "info")).node_id).toBe(aliceId);
    await new Promise((r) => setTimeout(r, 200));
    rendezvous.setAvailable(true);
    await ok(alice, "send-message", "bob", "--data", "back");
    await eventually(async () => expect((await ok(bob, "inbox")).messages).toMatchObject([{ data: "back" }]));
    await ok(bob, "inbox", "--clear");
    expect(alice.out.join("")).toMatch(/rendezvous unreachable; retrying/);
  });

  it("re-registers with a rendezvous that restarted empty, keeping ids and trust", async () => {
    current = createRendezvous();
    // Each daemon's next poll gets a 401 and registers again.
    await eventually(async () => expect(current.nodes()).toHaveLength(2));
    await ok(bob, "send-message", "alice", "--data", "after restart");
    await eventually(async () =>
      expect((await ok(alice, "inbox")).messages).toMatchObject([{ data: "after restart" }]),
    );
    expect(current.nodes().find((n) => n.hostname === "alice")?.node_id).toBe(aliceId);
    await ok(alice, "inbox", "--clear");
  });

  it("untrust removes trust on both sides", async () => {
    // The real CLI prints only the node id; a second untrust fails as connection_failed.
    expect(await ok(bob, "untrust", String(aliceId))).toEqual({ node_id: aliceId });
    expect(await err(bob, "untrust", String(aliceId))).toEqual({
      status: "error",
      code: "connection_failed",
      message: `untrust: revoke: daemon: handshake revoke: node ${aliceId} was not trusted`,
    });
    await eventually(async () => expect((await ok(alice, "trust")).trusted).toEqual([]));
    expect(await err(alice, "send-message", "bob", "--data", "hi")).toMatchObject({
      code: "connection_failed",
    });
    // With nothing pending, approve succeeds and trusts no one (the real daemon's behaviour).
    expect(await ok(bob, "approve", String(aliceId))).toEqual({ status: "approved", node_id: aliceId });
    expect((await ok(bob, "trust")).trusted).toEqual([]);
  });

  it("reject drops the request", async () => {
    await ok(bob, "handshake", String(aliceId));
    await eventually(async () => expect((await ok(alice, "pending")).pending).toHaveLength(1));
    expect(await ok(alice, "reject", String(bobId), "not now")).toEqual({
      status: "rejected",
      node_id: bobId,
    });
    expect((await ok(alice, "pending")).pending).toEqual([]);
    expect(await ok(alice, "reject", String(bobId))).toEqual({ status: "rejected", node_id: bobId });
  });
});

describe("pilot stand-in: daemon lifecycle", () => {
  it("keeps its node id across SIGKILL and restart, replacing the stale socket", async () => {
    alice.proc.kill("SIGKILL");
    await new Promise((r) => alice.proc.once("exit", r));
    expect(fs.existsSync(alice.socket)).toBe(true);
    alice = await startDaemon("alice", ["-endpoint", "192.0.2.10:4000"], alice.home);
    expect((await ok(alice, "info")).node_id).toBe(aliceId);
  });

  it("refuses to start a second daemon on a live socket", async () => {
    const again = spawnDaemon(
      ["-registry", `127.0.0.1:${port}`, "-socket", alice.socket, "-hostname", "alice2"],
      path.join(tmp, "alice2"),
    );
    expect(await again.exited).toBe(1);
    expect(again.out.join("")).toMatch(/already running/);
  });

  it("exits 1 when another live node holds the hostname", async () => {
    const twin = spawnDaemon(
      ["-registry", `127.0.0.1:${port}`, "-socket", path.join(tmp, "twin.sock"), "-hostname", "bob"],
      path.join(tmp, "twin"),
    );
    expect(await twin.exited).toBe(1);
    expect(twin.out.join("")).toMatch(/hostname bob belongs to live node/);
  });

  it("stops on SIGTERM with exit 0 and removes its socket", async () => {
    const carol = await startDaemon("carol");
    carol.proc.kill("SIGTERM");
    expect(await new Promise((r) => carol.proc.once("exit", r))).toBe(0);
    expect(fs.existsSync(carol.socket)).toBe(false);
  });

  it("exits 1 when the rendezvous is unreachable at start", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const d = spawnDaemon(
      ["-registry", `127.0.0.1:${deadPort}`, "-socket", path.join(tmp, "dead.sock")],
      path.join(tmp, "dead"),
    );
    expect(await d.exited).toBe(1);
    expect(d.out.join("")).toMatch(/cannot register with the rendezvous/);
  });

  it("exits 2 with usage on an unknown flag or a bad value", async () => {
    const r = await run(DAEMON, ["-registry", "127.0.0.1:1", "-frobnicate", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/flag provided but not defined: -frobnicate/);
    expect(r.stderr).toMatch(/Usage of pilot-daemon/);
    expect((await run(DAEMON, ["-registry", "nope"])).code).toBe(2);
    expect((await run(DAEMON, ["-registry", "127.0.0.1:1", "-log-format", "xml"])).code).toBe(2);
  });
});

describe("pilot stand-in: rendezvous and pure parts", () => {
  it("authenticates daemon calls and checks registration signatures", async () => {
    const base = `http://127.0.0.1:${port}/_pilot`;
    expect((await fetch(`${base}/queue?after=0`)).status).toBe(401);
    const forged = await fetch(`${base}/queue`, { headers: { authorization: "Bearer forged" } });
    expect(forged.status).toBe(401);
    const { nonce } = (await (await fetch(`${base}/challenge`, { method: "POST" })).json()) as any;
    const reg = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        public_key: (await ok(alice, "info")).public_key,
        nonce,
        signature: Buffer.alloc(64).toString("base64"),
      }),
    });
    expect(reg.status).toBe(401);
    const big = await fetch(`${base}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat(32 * 1024) }),
    });
    expect(big.status).toBe(413);
  });

  it("formats and parses addresses with both node groups", () => {
    expect(formatAddress(14296)).toBe("0:0000.0000.37D8");
    expect(formatAddress(0x12345678)).toBe("0:0000.1234.5678");
    expect(parseAddress("0:0000.1234.5678")).toEqual({ network: 0, nodeId: 0x12345678 });
    expect(parseAddress("1:0000.0000.0001")).toBeUndefined();
  });

  it("parses pilotctl command lines as the real CLI does", () => {
    const env = { PILOT_SOCKET: "/s" };
    expect(parseCommandLine(["send-message", "bob", "--json", "--data", "-x"], env)).toEqual({
      json: true,
      socket: "/s",
      cmd: "send-message",
      args: { target: "bob", data: "-x", type: "text" },
    });
    // A value starting with "--" is not taken: the flag reads "true" (the real parseFlags); inline is.
    expect(parseCommandLine(["send-message", "bob", "--data", "--type", "json"], env)).toMatchObject({
      args: { data: "true", type: "json" },
    });
    expect(parseCommandLine(["send-message", "bob", "--data=--x"], env)).toMatchObject({
      args: { data: "--x" },
    });
    expect(parseCommandLine(["info"], {}, { socket: "/from-config" })).toMatchObject({
      socket: "/from-config",
    });
    expect(parseCommandLine(["info"], {})).toMatchObject({ socket: "/tmp/pilot.sock" });
    // No global flag but --json: a leading --socket is the command, and unknown.
    expect(() => parseCommandLine(["--socket=/s", "info"], {})).toThrow("unknown command: --socket=/s");
    expect(() => parseCommandLine(["--socket", "/s", "info"], {})).toThrow("unknown command: --socket");
    expect(() => parseCommandLine(["inbox", "extra"], {})).toThrow(/takes no arguments/);
    expect(() => parseCommandLine(["approve"], {})).toThrow(/needs a node id/);
  });
});
