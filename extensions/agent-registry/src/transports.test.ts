import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type MockRegistry, startMockRegistry } from "../../../test/mocks/registry/server.ts";
import { type Peer, PeerDirectory } from "./peers.ts";
import { PilotDaemon } from "./pilot/daemon.ts";
import { RegistryClient } from "./registry-client.ts";
import { PilotTransport, RelayTransport, type Transport } from "./transports.ts";
import { encodeMessage } from "./wire.ts";

// Both transports between two agents, alpha and bravo: the registry's HTTP relay of the mock
// registry, and Pilot through two stand-in daemons on the rendezvous it serves under /_pilot.

const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const tmp = mkdtempSync(path.join(os.tmpdir(), "ar-transports-"));
const savedPath = process.env.PATH;
let registry: MockRegistry;
let client: RegistryClient;

beforeAll(async () => {
  // The stand-in's wrappers run `node`: this one (Node 24, type stripping) first on PATH.
  process.env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${savedPath ?? ""}`;
  registry = await startMockRegistry();
  client = new RegistryClient({ baseUrl: registry.url });
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await registry?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const err = (code: string, message: string | RegExp) =>
  expect.objectContaining({
    code,
    message: typeof message === "string" ? message : expect.stringMatching(message),
  });

/** Keeps asking until `read` gives something `ok` accepts (messages travel through a poller). */
function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  return vi.waitFor(
    async () => {
      const v = await read();
      if (!ok(v)) throw new Error(`not yet: ${JSON.stringify(v)}`);
      return v;
    },
    { timeout: 20_000, interval: 100 },
  );
}

describe("relay transport", () => {
  let alpha: RelayTransport;
  let bravo: RelayTransport;
  let toBravo: Peer;
  let toAlpha: Peer;

  beforeAll(async () => {
    await client.register({ hostname: "alpha", installation_id: "inst-a" });
    await client.register({ hostname: "bravo", installation_id: "inst-b" });
    alpha = new RelayTransport(
      client,
      { installationId: "inst-a", hostname: "alpha" },
      new PeerDirectory(client),
    );
    bravo = new RelayTransport(
      client,
      { installationId: "inst-b", hostname: "bravo" },
      new PeerDirectory(client),
    );
    toBravo = { hostname: "bravo", installationId: "inst-b", known: true };
    toAlpha = { hostname: "alpha", installationId: "inst-a", known: true };
  });

  it("is always ready, reaches only peers with an installation id, and names one without", async () => {
    expect(alpha.ready()).toBe(true);
    expect(alpha.canReach(toBravo)).toBe(true);
    const noId = { hostname: "pilot-only", nodeId: 7, known: true };
    expect(alpha.canReach(noId)).toBe(false);
    await expect(alpha.send(noId, "hi")).rejects.toEqual(
      err("AGENT_REGISTRY_ERR_NO_INSTALLATION_ID", "pilot-only has no installation id in the registry"),
    );
  });

  it("refuses to send before the peer approved a handshake, naming the peer and the way out", async () => {
    expect(await alpha.trusts(toBravo)).toBe(false);
    await expect(alpha.send(toBravo, "hi")).rejects.toEqual(
      err(
        "AGENT_REGISTRY_ERR_NOT_TRUSTED",
        /^bravo has not approved a trust handshake with this agent \(registry relay\); send one with agent_network handshake/,
      ),
    );
  });

  it("carries a handshake, its approval, and messages both ways; acks only what was handled", async () => {
    await alpha.handshake(toBravo, "alpha here, about the report");
    const [pending] = await bravo.pending();
    expect(pending).toEqual({
      transport: "relay",
      key: expect.stringMatching(/^relay-hs:inst-a:/),
      from: toAlpha,
      justification: "alpha here, about the report",
    });
    await bravo.approve(toAlpha);
    expect(await alpha.trusts(toBravo)).toBe(true);
    expect(await bravo.pending()).toEqual([]);

    await alpha.send(toBravo, encodeMessage("hello", undefined, "m1"));
    await alpha.send(toBravo, "plain words");
    const inbound = await bravo.receive();
    expect(inbound).toEqual([
      {
        transport: "relay",
        key: expect.stringMatching(/^relay:/),
        message: { id: "m1", text: "hello" },
        from: toAlpha,
      },
      {
        transport: "relay",
        key: expect.stringMatching(/^relay:/),
        message: { id: inbound[1]?.key, text: "plain words" },
        from: toAlpha,
      },
    ]);
    await bravo.settle((k) => k === inbound[0]?.key);
    expect((await bravo.receive()).map((m) => m.message.text)).toEqual(["plain words"]);
    await bravo.settle(() => true);
    expect(await bravo.receive()).toEqual([]);

    await bravo.send(toAlpha, encodeMessage("re: hello", "m1", "m2"));
    expect((await alpha.receive()).map((m) => m.message)).toEqual([
      { id: "m2", text: "re: hello", replyTo: "m1" },
    ]);
  });

  it("untrusts both ways, and a rejected handshake leaves nothing pending", async () => {
    await alpha.untrust(toBravo);
    expect(await bravo.trusts(toAlpha)).toBe(false);
    await expect(bravo.send(toAlpha, "still there?")).rejects.toEqual(
      err("AGENT_REGISTRY_ERR_NOT_TRUSTED", /^alpha has not approved/),
    );
    await bravo.handshake(toAlpha, "again?");
    expect((await alpha.pending()).map((p) => p.from.hostname)).toEqual(["bravo"]);
    await alpha.reject(toBravo);
    expect(await alpha.pending()).toEqual([]);
    expect(await alpha.trusts(toBravo)).toBe(false);
  });
});

// Each pilotctl call starts a node process (about a second on a busy machine): generous timeouts.
describe("pilot transport", { timeout: 120_000 }, () => {
  const daemons: PilotDaemon[] = [];
  let alpha: PilotTransport;
  let bravo: PilotTransport;
  let toBravo: Peer;
  let alphaId = 0;

  const pilot = (hostname: string) => {
    const home = path.join(tmp, hostname);
    const d = new PilotDaemon({
      binDir: path.resolve(import.meta.dirname, "../../../test/mocks/pilot/bin"),
      socketPath: path.join(home, "pilot.sock"),
      registry: `127.0.0.1:${registry.port}`,
      port: 4000,
      hostname,
      home,
      logger: quiet,
    });
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    const [a, b] = [pilot("alpha-p"), pilot("bravo-p")];
    const [ai, bi] = await Promise.all([a.start(), b.start()]);
    if (!ai || !bi) throw new Error(`the Pilot stand-in did not start: ${a.lastError ?? b.lastError}`);
    alphaId = ai.node_id;
    // Only bravo is in the agent registry at first: alpha is known by its Pilot address alone.
    await client.register({ hostname: "bravo-p", installation_id: "inst-bp", pilot_node_id: bi.node_id });
    alpha = new PilotTransport(
      () => a.ctl,
      () => a.ready,
      new PeerDirectory(client),
    );
    bravo = new PilotTransport(
      () => b.ctl,
      () => b.ready,
      new PeerDirectory(client),
    );
    toBravo = { hostname: "bravo-p", installationId: "inst-bp", nodeId: bi.node_id, known: true };
  }, 120_000);
  afterAll(async () => {
    for (const d of daemons) await d.stop();
  });

  it("is down while its daemon is, and reaches only peers with a node id", async () => {
    const down: Transport = new PilotTransport(
      () => undefined,
      () => false,
      new PeerDirectory(client),
    );
    expect(down.ready()).toBe(false);
    await expect(down.receive()).rejects.toEqual(
      err("AGENT_REGISTRY_ERR_PILOT_DOWN", "the Pilot daemon is not running"),
    );
    expect(alpha.ready()).toBe(true);
    expect(alpha.canReach({ hostname: "relay-only", installationId: "i", known: true })).toBe(false);
    await expect(alpha.handshake({ hostname: "relay-only", known: true }, "hi")).rejects.toEqual(
      err("AGENT_REGISTRY_ERR_NO_NODE_ID", "relay-only has no Pilot node id in the registry"),
    );
  });

  it("refuses to send before trust, then carries handshake, approval and a message", async () => {
    await expect(alpha.send(toBravo, encodeMessage("hi"))).rejects.toEqual(
      err(
        "AGENT_REGISTRY_ERR_NOT_TRUSTED",
        /^bravo-p has not approved a trust handshake with this agent \(Pilot\)/,
      ),
    );
    await alpha.handshake(toBravo, "alpha-p here");
    const [pending] = await until(
      () => bravo.pending(),
      (p) => p.length === 1,
    );
    // Not in the registry: named after its node id, and marked unknown.
    expect(pending).toEqual({
      transport: "pilot",
      key: expect.stringMatching(new RegExp(`^pilot-hs:${alphaId}:`)),
      from: { hostname: `pilot-node-${alphaId}`, nodeId: alphaId, known: false },
      justification: "alpha-p here",
    });
    await bravo.approve(pending?.from as Peer);
    await until(
      () => alpha.trusts(toBravo),
      (t) => t,
    );

    await client.register({ hostname: "alpha-p", installation_id: "inst-ap", pilot_node_id: alphaId });
    await alpha.send(toBravo, encodeMessage("over pilot", undefined, "p1"));
    const [m] = await until(
      () => bravo.receive(),
      (ms) => ms.length === 1,
    );
    expect(m).toEqual({
      transport: "pilot",
      key: expect.stringMatching(/^pilot:[0-9a-f]{32}$/),
      message: { id: "p1", text: "over pilot" },
      from: { hostname: "alpha-p", installationId: "inst-ap", nodeId: alphaId, known: true },
    });
    // Pilot clears its inbox only as a whole, once all of it was handled.
    await bravo.settle(() => false);
    expect(await bravo.receive()).toHaveLength(1);
    await bravo.settle((k) => k === m?.key);
    expect(await bravo.receive()).toEqual([]);
  });

  it("untrusts both ways, and a rejected handshake leaves nothing pending", async () => {
    await bravo.untrust({ hostname: "alpha-p", nodeId: alphaId, known: true });
    await until(
      () => alpha.trusts(toBravo),
      (t) => !t,
    );
    await alpha.handshake(toBravo, "once more");
    const [again] = await until(
      () => bravo.pending(),
      (p) => p.length === 1,
    );
    expect(again?.from.hostname).toBe("alpha-p"); // in the registry by now
    await bravo.reject(again?.from as Peer, "not now");
    expect(await bravo.pending()).toEqual([]);
  });
});
