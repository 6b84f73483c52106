import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import type { Server } from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Capture, loadRecordings } from "../../contract/pilot-captures.ts";
import { createRendezvous, type Rendezvous } from "./rendezvous.ts";
import { goJson } from "./src/gojson.ts";

/**
 * The stand-in held to the real programs: the calls recorded in
 * ../shared/upstream-captures/pilotctl-outputs.json are made again, in the recorded order, against
 * two stand-in daemons, and each answer must be the recorded one: exit code, stdout and stderr
 * byte for byte where the recording does not depend on the run (EXACT), otherwise equal once node
 * ids, keys, addresses, times and the inbox folder are replaced by what they stand for, and
 * printed as Go prints (sorted keys, compact). The one allowance: `mutual` is compared by type (the
 * stand-in's trust is always mutual; the real one is one-sided until the peer's approve arrives).
 */

const loaded = loadRecordings();
if ("missing" in loaded && process.env.CI !== "true")
  process.stdout.write(`skipped the Pilot stand-in contract tests: ${loaded.missing}\n`);
const rec = "recordings" in loaded ? loaded.recordings : undefined;

/** Recordings whose bytes do not depend on ids, keys, times or folders. */
const EXACT = new Set([
  "unknown_socket_flag",
  "peers_none",
  "inbox_absent",
  "inbox_clear_absent",
  "inbox_clear",
]);

const BIN = path.join(import.meta.dirname, "bin");
const PATH = `${path.dirname(process.execPath)}:${process.env.PATH}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pilot-contract-"));
const procs = new Set<ChildProcess>();
let server: Server;
let rendezvous: Rendezvous;

interface Node {
  home: string;
  socket: string;
  id: number;
}

function run(args: string[], env: Record<string, string>): Promise<Capture> {
  return new Promise((resolve) =>
    execFile(path.join(BIN, "pilotctl"), args, { env: { PATH, ...env } }, (err, stdout, stderr) =>
      resolve({ rc: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
const ctl = (n: Node, ...args: string[]) =>
  run(["--json", ...args], { PILOT_SOCKET: n.socket, HOME: n.home });

async function startNode(name: string, port: number, endpoint: string): Promise<Node> {
  const home = path.join(tmp, name);
  fs.mkdirSync(home, { recursive: true });
  const socket = path.join(home, "pilot.sock");
  const proc = spawn(
    path.join(BIN, "pilot-daemon"),
    ["-registry", `127.0.0.1:${port}`, "-socket", socket, "-hostname", name, "-endpoint", endpoint],
    { env: { PATH, HOME: home, PILOT_STANDIN_POLL_MS: "50" }, stdio: "ignore" },
  );
  procs.add(proc);
  for (let i = 0; i < 600; i++) {
    const r = await ctl({ home, socket, id: 0 }, "info");
    if (r.rc === 0) return { home, socket, id: JSON.parse(r.stdout).data.node_id };
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${name} did not start`);
}

/** What a value stands for, where it depends on the run; everything else is kept as it is. */
function placeholders(v: unknown, key = ""): unknown {
  if (Array.isArray(v)) return v.map((x) => placeholders(x, key));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, placeholders(x, k)]));
  if (key === "node_id" && typeof v === "number") return "<node id>";
  if (key === "public_key" && typeof v === "string") return "<key>";
  if (key === "mutual" && typeof v === "boolean") return "<boolean>";
  if ((key === "received_at" || key === "approved_at") && typeof v === "number") return "<unix seconds>";
  if (key === "received_at" && typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v))
    return "<rfc3339>";
  if (
    ["from", "target", "address"].includes(key) &&
    typeof v === "string" &&
    /^0:0000\.[0-9A-F]{4}\.[0-9A-F]{4}$/.test(v)
  )
    return "<address>";
  if (key === "dir" && typeof v === "string" && v.endsWith("/.pilot/inbox")) return "<inbox dir>";
  if (key === "endpoint" && typeof v === "string" && /^[\d.]+:\d+$/.test(v)) return "<ip:port>";
  if (key === "hostname" && typeof v === "string") return "<hostname>";
  if (key === "uptime_secs" && typeof v === "number") return "<seconds>";
  if (key === "message" && typeof v === "string") return v.replace(/node \d+/g, "node <id>");
  return v;
}

/** One stream: Go's bytes (sorted keys, compact), and equal to the recording once normalized. */
function sameStream(got: string, want: string, what: string): void {
  const text = got.trimEnd();
  if (!want) {
    expect(text, what).toBe("");
    return;
  }
  const parsed = JSON.parse(text);
  expect(text, `${what} is printed as Go prints it`).toBe(goJson(parsed));
  expect(placeholders(parsed), what).toEqual(placeholders(JSON.parse(want)));
}

describe.skipIf(!rec && process.env.CI !== "true")(
  "Pilot contract: the stand-in gives the recorded answers",
  () => {
    let a: Node;
    let b: Node;

    beforeAll(async () => {
      rendezvous = createRendezvous();
      const app = express();
      app.use("/_pilot", rendezvous.router);
      server = await new Promise((resolve) => {
        const s = app.listen(0, "127.0.0.1", () => resolve(s));
      });
      const port = (server.address() as net.AddressInfo).port;
      [a, b] = await Promise.all([
        startNode("frank", port, "127.0.0.1:17001"),
        startNode("gina", port, "127.0.0.1:17002"),
      ]);
    }, 120_000);

    afterAll(async () => {
      for (const p of procs) p.kill("SIGKILL");
      rendezvous?.shutdown();
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** Retries a call until its exit code is the recorded one (delivery through the rendezvous takes a poll). */
    async function until(call: () => Promise<Capture>, ok: (c: Capture) => boolean): Promise<Capture> {
      let last = await call();
      for (let i = 0; i < 100 && !ok(last); i++) {
        await new Promise((r) => setTimeout(r, 100));
        last = await call();
      }
      return last;
    }

    // The recorded calls, in the recorded order; frank is `a`, gina `b`.
    const CALLS: Array<[string, () => Promise<Capture>]> = [
      ["unknown_socket_flag", () => run(["--json", "--socket", a.socket, "info"], { HOME: a.home })],
      ["info", () => ctl(a, "info")],
      ["peers_none", () => ctl(a, "peers")],
      ["inbox_absent", () => ctl(b, "inbox")],
      ["inbox_clear_absent", () => ctl(b, "inbox", "--clear")],
      ["handshake", () => ctl(a, "handshake", String(b.id), "hello from frank")],
      [
        "pending_with_entry",
        () =>
          until(
            () => ctl(b, "pending"),
            (c) => c.stdout.includes("node_id"),
          ),
      ],
      ["approve", () => ctl(b, "approve", String(a.id))],
      [
        "trust_frank",
        () =>
          until(
            () => ctl(a, "trust"),
            (c) => c.stdout.includes("node_id"),
          ),
      ],
      ["trust_gina", () => ctl(b, "trust")],
      ["peers_before", () => ctl(a, "peers")],
      [
        "send_json",
        () => ctl(a, "send-message", String(b.id), '--data={"v":1,"id":"m-1","text":"hi"}', "--type=json"),
      ],
      ["send_text", () => ctl(a, "send-message", String(b.id), "--data=plain text")],
      [
        "inbox_with_msgs",
        () =>
          until(
            () => ctl(b, "inbox"),
            (c) => c.stdout.includes('"total":2'),
          ),
      ],
      ["inbox_clear", () => ctl(b, "inbox", "--clear")],
      ["inbox_after_clear", () => ctl(b, "inbox")],
      ["untrust_ok", () => ctl(a, "untrust", String(b.id))],
      ["untrust_again", () => ctl(a, "untrust", String(b.id))],
      ["reject", () => ctl(b, "reject", String(a.id))],
    ];

    it("makes every recorded call", () => {
      expect(CALLS.map(([n]) => n).sort()).toEqual(Object.keys(rec?.captures ?? {}).sort());
    });

    it.each(CALLS.map(([name, call]) => ({ name, call })))(
      "answers $name as recorded",
      async ({ name, call }) => {
        const want = rec?.captures[name];
        if (!want) throw new Error(`the recording has no ${name} (required in CI)`);
        const got = await call();
        expect(got.rc, `${name}: exit code (stderr: ${got.stderr})`).toBe(want.rc);
        if (EXACT.has(name)) {
          expect(got.stdout.trimEnd(), `${name}: stdout`).toBe(want.stdout);
          expect(got.stderr.trimEnd(), `${name}: stderr`).toBe(want.stderr);
          return;
        }
        sameStream(got.stdout, want.stdout, `${name}: stdout`);
        sameStream(got.stderr, want.stderr, `${name}: stderr`);
      },
    );
  },
);
