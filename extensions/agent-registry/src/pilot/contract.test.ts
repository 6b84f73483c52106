import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, describe, expect, it } from "vitest";
import { loadRecordings, type PilotRecordings } from "../../../../test/contract/pilot-captures.ts";
import { formatAddress, isAddress, parseAddress } from "./address.ts";
import { daemonArgs, PilotDaemon } from "./daemon.ts";
import { Pilotctl } from "./pilotctl.ts";

/**
 * Contract tests from what the real pilotctl answered (../shared/upstream-captures): every
 * recorded answer (exit code, stdout, stderr) is replayed by a binary that prints exactly it, and
 * the wrapper and the supervisor must take it as the table below says. A recorded case with no
 * row fails, so a new recording cannot go unchecked. The same calls run against the stand-in in
 * test/mocks/pilot/contract.test.ts.
 */

const loaded = loadRecordings();
if ("missing" in loaded && process.env.CI !== "true")
  process.stdout.write(`skipped the Pilot contract tests: ${loaded.missing}\n`);
const rec = "recordings" in loaded ? loaded.recordings : undefined;

// Prints the recorded answer and logs argv and the socket/home it was given.
const REPLAY = `#!/usr/bin/env node
const fs = require("node:fs");
fs.appendFileSync(process.env.REPLAY_LOG, JSON.stringify({ argv: process.argv.slice(2), socket: process.env.PILOT_SOCKET, home: process.env.HOME }) + "\\n");
const c = JSON.parse(process.env.REPLAY_CAPTURE);
process.stdout.write(c.stdout ? c.stdout + "\\n" : "");
process.stderr.write(c.stderr ? c.stderr + "\\n" : "");
process.exitCode = c.rc;
`;

const dir = mkdtempSync(path.join(os.tmpdir(), "pilot-contract-"));
const LOG = path.join(dir, "calls.jsonl");
writeFileSync(path.join(dir, "pilotctl"), REPLAY);
chmodSync(path.join(dir, "pilotctl"), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const replaying = (r: PilotRecordings, name: string) => {
  const c = r.captures[name];
  if (!c) throw new Error(`no recorded case ${name}`);
  return new Pilotctl({
    bin: path.join(dir, "pilotctl"),
    socketPath: "/run/pilot-test.sock",
    home: "/home/agent",
    env: { ...process.env, REPLAY_CAPTURE: JSON.stringify(c), REPLAY_LOG: LOG },
  });
};
const calls = () =>
  readFileSync(LOG, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { argv: string[]; socket: string; home: string });

/** Each recorded case: what the wrapper makes of it. */
const CASES: Record<string, (c: (name: string) => Pilotctl) => Promise<void>> = {
  async unknown_socket_flag(c) {
    await expect(c("unknown_socket_flag").info()).rejects.toMatchObject({
      code: "PILOT_ERR_INVALID_ARGUMENT",
      message:
        "pilotctl info: unknown command: --socket (hint: run 'pilotctl context' for the full command list)",
    });
  },
  async peers_none(c) {
    expect(await c("peers_none").peers()).toEqual({ peers: [], total: 0 });
  },
  async peers_before(c) {
    expect(await c("peers_before").peers()).toMatchObject({
      peers: [{ node_id: 3, endpoint: "127.0.0.1:17001", encrypted: true, authenticated: true }],
      total: 1,
    });
  },
  async inbox_absent(c) {
    expect(await c("inbox_absent").inbox()).toEqual([]);
  },
  async inbox_clear_absent(c) {
    expect(await c("inbox_clear_absent").clearInbox()).toBe(0);
  },
  async handshake(c) {
    expect(await c("handshake").handshake(9, "hello")).toMatchObject({ node_id: 9, status: "sent" });
  },
  async pending_with_entry(c) {
    // received_at is kept (Unix seconds): the handshake's dedup key is built from it.
    expect(await c("pending_with_entry").pending()).toEqual([
      expect.objectContaining({ node_id: 8, justification: "hello from frank", received_at: 1795898236 }),
    ]);
  },
  async approve(c) {
    expect(await c("approve").approve(8)).toMatchObject({ node_id: 8, status: "approved" });
  },
  async reject(c) {
    expect(await c("reject").reject(3)).toMatchObject({ node_id: 3, status: "rejected" });
  },
  async trust_frank(c) {
    expect(await c("trust_frank").trusted()).toMatchObject([{ node_id: 9, mutual: true }]);
  },
  async trust_gina(c) {
    expect(await c("trust_gina").trusted()).toMatchObject([{ node_id: 8, mutual: false }]);
  },
  async send_json(c) {
    const data = '{"v":1,"id":"m-1","text":"hi"}';
    expect(await c("send_json").sendMessage(9, data, "json")).toMatchObject({ bytes: 30, type: "json" });
  },
  async send_text(c) {
    expect(await c("send_text").sendMessage(9, "plain text")).toMatchObject({ bytes: 10, type: "text" });
  },
  async inbox_with_msgs(c) {
    const msgs = await c("inbox_with_msgs").inbox();
    expect(msgs).toEqual([
      expect.objectContaining({ type: "JSON", data: '{"v":1,"id":"m-1","text":"hi"}', bytes: 30 }),
      expect.objectContaining({ type: "TEXT", data: "plain text", received_at: "2026-11-28T20:37:26Z" }),
    ]);
    expect(msgs.map((m) => parseAddress(m.from).nodeId)).toEqual([8, 8]);
  },
  async inbox_clear(c) {
    expect(await c("inbox_clear").clearInbox()).toBe(2);
  },
  async inbox_after_clear(c) {
    expect(await c("inbox_after_clear").inbox()).toEqual([]);
  },
  async untrust_ok(c) {
    expect(await c("untrust_ok").untrust(9)).toEqual({ node_id: 9 });
  },
  async untrust_again(c) {
    await expect(c("untrust_again").untrust(9)).rejects.toMatchObject({
      code: "PILOT_ERR_CONNECTION_FAILED",
      message: "pilotctl untrust: untrust: revoke: daemon: handshake revoke: node 9 was not trusted",
    });
  },
  async info(c) {
    const info = await c("info").info();
    expect(info).toMatchObject({ node_id: 3, address: "0:0000.0000.0003", hostname: "alice-agent" });
    expect(parseAddress(info.address).nodeId).toBe(info.node_id);
  },
};

describe.skipIf(!rec && process.env.CI !== "true")(
  "Pilot contract: the client against the recordings",
  () => {
    const r = () => {
      if (!rec)
        throw new Error(
          `the Pilot recordings are required in CI: ${"missing" in loaded ? loaded.missing : ""}`,
        );
      return rec;
    };

    it("has a row for every recorded case, and no row for a case that was not recorded", () => {
      expect(Object.keys(CASES).sort()).toEqual(Object.keys(r().captures).sort());
    });

    it.each(Object.keys(CASES))("handles the recorded answer %s", async (name) => {
      await CASES[name]?.((n) => replaying(r(), n));
    });

    it("builds only argv the real CLI accepts, with the socket and home in the environment", () => {
      const { commands } = r().pilotctl_commands;
      const seen = calls();
      expect(seen.length).toBeGreaterThanOrEqual(Object.keys(CASES).length);
      for (const call of seen) {
        // main() drops every literal --json and takes the first word left as the command.
        const words = call.argv.filter((a) => a !== "--json");
        expect(commands).toContain(words[0]);
        expect(call.argv.some((a) => a === "--socket" || a.startsWith("--socket="))).toBe(false);
        expect(call).toMatchObject({ socket: "/run/pilot-test.sock", home: "/home/agent" });
      }
    });

    it("starts pilot-daemon only with flags the real daemon defines", () => {
      const { flags } = r().daemon_flags;
      const argv = daemonArgs({
        socketPath: "/tmp/p.sock",
        registry: "10.0.0.1:9000",
        port: 4000,
        publicIp: "192.0.2.1",
        hostname: "alpha",
        home: "/home/agent",
      });
      // Go's flag form: every even position is -name, every odd one its value.
      const names = argv.filter((_, i) => i % 2 === 0);
      for (const n of names) expect(flags).toContain(n.replace(/^-/, ""));
      expect(names).toEqual(expect.arrayContaining(["-socket", "-hostname", "-identity", "-registry"]));
    });

    it("parses addresses as Go's protocol.ParseAddr does", () => {
      for (const [text, want] of Object.entries(r().go_parse_addr.results)) {
        if (want === "ERR") {
          expect(isAddress(text), text).toBe(false);
          expect(() => parseAddress(text), text).toThrow(
            expect.objectContaining({ code: "PILOT_ERR_BAD_ADDRESS" }),
          );
          continue;
        }
        expect(parseAddress(text), text).toMatchObject({ network: want.network, nodeId: want.node });
        expect(formatAddress(want.node, want.network)).toBe(want.string);
      }
    });

    it("the supervisor attaches to a daemon that answers info as recorded, and not to a --socket refusal", async () => {
      const logger = createLogger({
        extension: "test",
        level: "error",
        sink: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
      });
      const make = (name: string, daemonScript: string) => {
        const bins = mkdtempSync(path.join(dir, "bins-"));
        writeFileSync(path.join(bins, "pilot-daemon"), `#!/bin/sh\n${daemonScript}\n`);
        chmodSync(path.join(bins, "pilot-daemon"), 0o755);
        writeFileSync(path.join(bins, "pilotctl"), REPLAY);
        chmodSync(path.join(bins, "pilotctl"), 0o755);
        process.env.REPLAY_CAPTURE = JSON.stringify(r().captures[name]);
        process.env.REPLAY_LOG = LOG;
        return new PilotDaemon({
          binDir: bins,
          socketPath: path.join(dir, `${name}.sock`),
          registry: "127.0.0.1:9",
          port: 4000,
          hostname: "alpha",
          home: path.join(dir, `home-${name}`),
          logger,
          readyTimeoutMs: 300,
        });
      };
      try {
        const up = make("info", "exit 3");
        expect((await up.start())?.node_id).toBe(3);
        expect(up.state).toBe("attached");
        await up.stop();
        // A pilotctl that refuses every call never makes the daemon ready: it is reported, not trusted.
        const refused = make("unknown_socket_flag", "exec sleep 5");
        expect(await refused.start()).toBeUndefined();
        expect(refused.lastError).toMatch(/did not answer pilotctl info in time|pilot-daemon exited/);
        await refused.stop();
      } finally {
        delete process.env.REPLAY_CAPTURE;
        delete process.env.REPLAY_LOG;
      }
    });
  },
);
