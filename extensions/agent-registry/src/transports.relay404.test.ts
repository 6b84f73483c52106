import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRegistryAccount, type ResolvedAccount } from "./account.ts";
import { PeerDirectory } from "./peers.ts";
import { RegistryClient } from "./registry-client.ts";
import { agentRegistryStatus, resolveAgentRegistry } from "./status.ts";
import { RelayTransport } from "./transports.ts";

/**
 * A registry without the relay inbox/ack and trust routes this project assumes (only its mock has
 * them): they answer 404 as FastAPI does. Sending keeps working; receiving is reported, not thrown.
 */

let server: Server;
let url = "";
const sent: unknown[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && req.url === "/api/v1/agents/messages/send") {
        sent.push(JSON.parse(body));
        res.end(JSON.stringify({ ok: true, message_id: "r-1" }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ detail: "Not Found" }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("relay against a registry without the assumed inbox and trust routes", () => {
  it("keeps sending, receives nothing without failing, and says why", async () => {
    const client = new RegistryClient({ baseUrl: url });
    const relay = new RelayTransport(
      client,
      { installationId: "inst-a", hostname: "alpha" },
      new PeerDirectory(client),
    );
    expect(await relay.receive()).toEqual([]);
    expect(relay.receiveUnavailable).toMatch(/answered 404 to GET \/api\/v1\/agents\/messages\/inbox/);
    expect(await relay.pending()).toEqual([]);
    expect(relay.trustUnavailable).toMatch(/answered 404 to GET \/api\/v1\/trust\/pending/);
    await relay.settle(() => true); // nothing read, nothing acknowledged
    await relay.send({ hostname: "bravo", installationId: "inst-b", known: true }, "hello");
    expect(sent).toEqual([expect.objectContaining({ to_installation_id: "inst-b", body: "hello" })]);
  });

  it("shows relay receive as unavailable, and why, in the status", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ar-relay404-"));
    const raw = { registryUrl: url, hostname: "alpha", transport: "relay" };
    const resolved = resolveAgentRegistry(raw);
    if (!resolved.ok) throw new Error("config did not resolve");
    const account = new AgentRegistryAccount({
      config: {
        ...resolved.config,
        registryUrl: url,
        hostname: "alpha",
        installationId: "inst-a",
      } as ResolvedAccount,
      logger: createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } }),
      home: dir,
      stateDir: dir,
      dispatch: async () => {},
      notify: async () => {},
    });
    await account.poll();
    expect(account.lastError).toBeUndefined(); // a missing route is not a failing poll
    const status = agentRegistryStatus(resolved, account) as Record<string, unknown>;
    expect(status.relay).toEqual({
      receive: "unavailable",
      receiveUnavailable: expect.stringMatching(
        /relay messages to this agent cannot be received; sending still works/,
      ),
      trustUnavailable: expect.stringMatching(/trust requests over the relay cannot be received/),
    });
  });
});
