import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildArgs, MAX_OUTPUT_BYTES, Pilotctl, parseEnvelope, type SubCommand } from "./pilotctl.ts";

const ok = (data: unknown) => JSON.stringify({ status: "ok", data });
const fail = (code: string, message: string, hint?: string) =>
  JSON.stringify({ status: "error", code, message, ...(hint ? { hint } : {}) });

describe("parseEnvelope", () => {
  it("returns the data of an ok envelope on stdout", () => {
    expect(parseEnvelope(`${ok({ node_id: 1 })}\n`, "", 0)).toEqual({ ok: true, data: { node_id: 1 } });
  });

  it("skips log lines and takes the last envelope, also a pretty-printed one", () => {
    const out = `2026/01/01 dialing /tmp/pilot.sock\n{"not":"an envelope"}\n${ok(1)}\n${ok(2)}\nbye\n`;
    expect(parseEnvelope(out, "warn: slow", 0)).toEqual({ ok: true, data: 2 });
    const pretty = `connecting\n${JSON.stringify({ status: "ok", data: { a: [1] } }, null, 2)}\n`;
    expect(parseEnvelope(pretty, "", 0)).toEqual({ ok: true, data: { a: [1] } });
  });

  it("reads an error envelope from stderr with its code, message and hint", () => {
    const err = `log line\n${fail("not_running", "daemon is not running", "start pilot-daemon")}\n`;
    expect(parseEnvelope("", err, 1)).toEqual({
      ok: false,
      code: "not_running",
      message: "daemon is not running",
      hint: "start pilot-daemon",
    });
    expect(parseEnvelope("", fail("CONNECTION_FAILED", "no route"), 1)).toMatchObject({
      code: "connection_failed",
    });
    expect(parseEnvelope("", fail("Not Running!", "odd"), 1)).toMatchObject({
      code: "internal",
      message: "odd",
    });
  });

  it("treats an error envelope as a failure even with exit 0, and ok with exit 1 as a failure", () => {
    expect(parseEnvelope(ok({}), fail("timeout", "peer silent"), 0)).toMatchObject({
      ok: false,
      code: "timeout",
    });
    expect(parseEnvelope(fail("not_found", "no such node"), "", 0)).toMatchObject({ code: "not_found" });
    expect(parseEnvelope(ok({}), "", 1)).toMatchObject({ ok: false, code: "internal" });
  });

  it("turns empty, non-JSON or missing output into an internal failure naming what happened", () => {
    expect(parseEnvelope("", "", 0)).toEqual({
      ok: false,
      code: "internal",
      message: "pilotctl exited 0 without a JSON answer",
    });
    expect(parseEnvelope("", "", 1)).toMatchObject({
      message: "pilotctl exited with code 1 and printed nothing",
    });
    expect(parseEnvelope("", "", null)).toMatchObject({ message: "pilotctl was killed and printed nothing" });
    expect(parseEnvelope("", "  panic: nil map\n\n  goroutine 1 [running]\n", 2)).toEqual({
      ok: false,
      code: "internal",
      message: "pilotctl exited with code 2: panic: nil map goroutine 1 [running]",
    });
    const long = parseEnvelope("", "x".repeat(5000), 1);
    expect(long.ok === false && long.message.length).toBeLessThanOrEqual(540);
  });

  it("does not parse output beyond the size bound", () => {
    const huge = `${ok({ blob: "x".repeat(MAX_OUTPUT_BYTES) })}\n`;
    expect(parseEnvelope(huge, "", 0)).toMatchObject({ ok: false, code: "internal" });
  });
});

describe("buildArgs", () => {
  it("puts --json first (no other global flag exists), then the sub-command, positionals and its flags", () => {
    expect(buildArgs("send-message", ["0:0000.0001.0002"], { data: "hello", type: "text" })).toEqual([
      "--json",
      "send-message",
      "0:0000.0001.0002",
      "--data=hello",
      "--type=text",
    ]);
    expect(buildArgs("info", [])).toEqual(["--json", "info"]);
    expect(buildArgs("inbox", [], { clear: true, search: undefined, all: false })).toEqual([
      "--json",
      "inbox",
      "--clear",
    ]);
    expect(buildArgs("reject", ["42", "not now"])).toEqual(["--json", "reject", "42", "not now"]);
  });

  it("keeps hostile message text as one argv element", () => {
    const data = "--help $(touch /tmp/pwned); `id` 'q' \"dq\" | && \n next";
    // Inline: pilotctl would read `--data --help ...` as a bare --data flag.
    expect(buildArgs("send-message", ["alpha"], { data }).slice(-1)).toEqual([`--data=${data}`]);
  });

  it("refuses unknown sub-commands, dash-led or empty positionals and NUL bytes", () => {
    const bad = (fn: () => unknown) =>
      expect(fn).toThrow(expect.objectContaining({ code: "PILOT_ERR_INVALID_ARGUMENT" }));
    bad(() => buildArgs("connect" as SubCommand, []));
    bad(() => buildArgs("handshake", ["--socket"]));
    bad(() => buildArgs("handshake", [""]));
    bad(() => buildArgs("send-message", ["alpha"], { data: "a\0b" }));
  });
});

// A stand-in pilotctl: answers each sub-command with contract-shaped data plus the argv it got, or
// misbehaves as FAKE_PILOT_MODE says.
const FAKE = `#!/usr/bin/env node
const a = process.argv.slice(2);
const mode = process.env.FAKE_PILOT_MODE || "ok";
if (mode === "hang") setTimeout(() => {}, 60000);
else if (mode === "replay") {
  process.stdout.write(process.env.FAKE_PILOT_STDOUT || "");
  process.stderr.write(process.env.FAKE_PILOT_STDERR || "");
  process.exit(Number(process.env.FAKE_PILOT_RC || 0));
}
else if (mode === "error") {
  process.stdout.write("dialing daemon\\n");
  process.stderr.write(JSON.stringify({ status: "error", code: "not_running", message: "daemon is not running", hint: "start pilot-daemon" }) + "\\n");
  process.exit(1);
} else if (mode === "garbage") {
  process.stderr.write("panic: boom\\n");
  process.exit(2);
} else if (a.filter((x) => x !== "--json")[0] === "--socket") {
  // What the real pilotctl answers (upstream-captures: unknown_socket_flag).
  process.stderr.write(JSON.stringify({ code: "invalid_argument", hint: "run 'pilotctl context' for the full command list", message: "unknown command: --socket", status: "error" }) + "\\n");
  process.exit(1);
} else {
  const i = 1;
  const sub = a[i];
  const data = {
    info: { node_id: 305419896, address: "0:0000.1234.5678", hostname: "alpha", peers: "many", extra: 1 },
    "send-message": { target: a[i + 1], type: "text", bytes: Buffer.byteLength((a.find((x) => x.startsWith("--data=")) || "").slice(7)), ack: true },
    inbox: a.includes("--clear") ? { cleared: 2 } : { messages: [{ type: "json", from: "0:0000.0000.37D8", data: { hi: 1 }, bytes: 8, received_at: "t1" }], total: 1 },
    peers: { peers: [{ node_id: 7, endpoint: "1.2.3.4:4000", encrypted: true, authenticated: true }] },
    pending: { pending: [{ node_id: 9, public_key: "pk", justification: "hello", received_at: 1795898236 }] },
    handshake: { status: "pending", node_id: Number(a[i + 1]) },
    trust: { trusted: [14296, { node_id: 1, hostname: "beta" }] },
  }[sub] || {};
  const env = { PILOT_SOCKET: process.env.PILOT_SOCKET, HOME: process.env.HOME };
  process.stdout.write("log: done\\n" + JSON.stringify({ status: "ok", data: { ...data, argv: a, env } }) + "\\n");
}
`;

describe("Pilotctl against a stand-in binary", () => {
  let dir: string;
  let bin: string;
  const ctl = (mode = "ok", timeoutMs?: number) =>
    new Pilotctl({
      bin,
      socketPath: "/tmp/p.sock",
      home: "/home/pilot",
      timeoutMs,
      env: { ...process.env, FAKE_PILOT_MODE: mode, PILOT_SOCKET: "/elsewhere.sock" },
    });
  const argv = (r: unknown) => (r as { argv: string[] }).argv;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "pilotctl-test-"));
    bin = path.join(dir, "pilotctl");
    await writeFile(bin, FAKE);
    await chmod(bin, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("runs sub-commands with flags in order and returns validated data", async () => {
    const info = await ctl().info();
    expect(info).toMatchObject({
      node_id: 305419896,
      address: "0:0000.1234.5678",
      hostname: "alpha",
      extra: 1,
    });
    expect(info.peers).toBeUndefined(); // a field of the wrong type is dropped, not fatal
    // The socket travels in the environment: a --socket argument is refused by the real CLI.
    expect(argv(info)).toEqual(["--json", "info"]);
    expect(info.env).toEqual({
      PILOT_SOCKET: "/tmp/p.sock",
      HOME: "/home/pilot",
    });
    const data = "it's $(not) a `shell`; --type json";
    const sent = await ctl().sendMessage("0:0000.0001.0002", data);
    expect(sent.bytes).toBe(Buffer.byteLength(data));
    expect(argv(sent)).toEqual([
      "--json",
      "send-message",
      "0:0000.0001.0002",
      `--data=${data}`,
      "--type=text",
    ]);
  });

  it("maps inbox, pending, peers, handshake and trust answers to typed data", async () => {
    const c = ctl();
    expect(await c.inbox()).toEqual([
      expect.objectContaining({ from: "0:0000.0000.37D8", data: '{"hi":1}', bytes: 8 }),
    ]);
    expect(await c.clearInbox()).toBe(2);
    expect(await c.peers("x")).toMatchObject({ peers: [{ node_id: 7, encrypted: true }], total: 1 });
    expect(await c.pending()).toEqual([
      expect.objectContaining({ node_id: 9, justification: "hello", received_at: 1795898236 }),
    ]);
    const hs = await c.handshake("0:0000.1234.5678", " let me in ");
    expect(hs).toMatchObject({ status: "pending", node_id: 305419896 });
    expect(argv(hs)).toEqual(["--json", "handshake", "305419896", "let me in"]);
    expect(await c.trusted()).toEqual([{ node_id: 14296 }, { node_id: 1, hostname: "beta" }]);
  });

  it("takes the real CLI's null lists as empty, untrust without a status, clear of no inbox as 0", async () => {
    const replay = (stdout: string, stderr = "", rc = 0) =>
      new Pilotctl({
        bin,
        env: {
          ...process.env,
          FAKE_PILOT_MODE: "replay",
          FAKE_PILOT_STDOUT: stdout,
          FAKE_PILOT_STDERR: stderr,
          FAKE_PILOT_RC: String(rc),
        },
      });
    expect(await replay(ok({ dir: "/h/.pilot/inbox", messages: null, total: 0 })).inbox()).toEqual([]);
    expect(await replay(ok({ peers: null, total: 0 })).peers()).toEqual({ peers: [], total: 0 });
    expect(await replay(ok({ pending: null })).pending()).toEqual([]);
    expect(await replay(ok({ trusted: null })).trusted()).toEqual([]);
    expect(await replay(ok({ node_id: 9 })).untrust(9)).toEqual({ node_id: 9 });
    expect(await replay("", fail("not_found", "inbox is empty"), 1).clearInbox()).toBe(0);
  });

  it("throws the envelope's code as PILOT_ERR_* with message and hint", async () => {
    await expect(ctl("error").info()).rejects.toMatchObject({
      code: "PILOT_ERR_NOT_RUNNING",
      message: "pilotctl info: daemon is not running (hint: start pilot-daemon)",
    });
    await expect(ctl("garbage").inbox()).rejects.toMatchObject({
      code: "PILOT_ERR_INTERNAL",
      message: expect.stringContaining("panic: boom"),
    });
    await expect(ctl("ok").approve(1)).rejects.toMatchObject({ code: "PILOT_ERR_BAD_RESPONSE" });
  });

  it("names a missing binary, a hung one, and refuses a hostname where a node id is needed", async () => {
    const missing = path.join(dir, "nope", "pilotctl");
    await expect(new Pilotctl({ bin: missing }).info()).rejects.toMatchObject({
      code: "PILOT_ERR_NOT_INSTALLED",
      message: expect.stringContaining(missing),
    });
    await expect(ctl("hang", 300).info()).rejects.toMatchObject({ code: "PILOT_ERR_TIMEOUT" });
    await expect(ctl().approve("alpha.local")).rejects.toMatchObject({ code: "PILOT_ERR_INVALID_ARGUMENT" });
    await expect(ctl().sendMessage("alpha", "{", "json")).rejects.toMatchObject({
      code: "PILOT_ERR_INVALID_ARGUMENT",
    });
  });
});
