import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import type { ClawmatrixConfig } from "./config-schema.ts";
import { MeshService } from "./service.ts";
import { clawmatrixStatus, resolveClawmatrix } from "./status.ts";

// `clawmatrix.status` from the plugin config, and from real mesh services on loopback.

const SECRET = "status-secret-0123456789abcdef";
const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const opened: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of opened.splice(0).reverse()) await s.stop();
});

/** The resolved config and a service built from it, on free ports. */
function resolvedService(raw: Record<string, unknown>) {
  const resolved = resolveClawmatrix({ secret: SECRET, listenHost: "127.0.0.1", ...raw });
  if (!resolved.ok) throw new Error(`config refused: ${resolved.status.reason}`);
  const c = resolved.config as ClawmatrixConfig & { nodeId: string; secret: string };
  const s = new MeshService(
    { ...c, listenPort: 0, proxyPort: Number(raw.proxyPort ?? 0) },
    () => ({}),
    quiet,
    mkdtempSync(path.join(tmpdir(), "clawmatrix-state-")),
  );
  opened.push(s);
  return { resolved, s };
}

describe("clawmatrix config resolution", () => {
  it("is disabled without a secret, invalid with a bad key, unconfigured without a node id", () => {
    expect(resolveClawmatrix(undefined)).toEqual({
      ok: false,
      status: {
        id: "clawmatrix",
        enabled: false,
        configured: false,
        state: "disabled",
        reason: "no mesh secret configured (set CLAWMATRIX_SECRET)",
      },
    });
    const short = resolveClawmatrix({ secret: "short", nodeId: "n" });
    expect(short.ok ? undefined : short.status).toMatchObject({ state: "invalid", enabled: true });
    expect(short.ok ? [] : short.status.problems).toEqual([expect.stringMatching(/^secret: /)]);
    expect(JSON.stringify(short)).not.toContain('"short"');
    const port = resolveClawmatrix({ secret: SECRET, nodeId: "n", proxyPort: 70000 });
    expect(port.ok ? "" : port.status.reason).toMatch(/proxyPort: .*\(got 70000\)/);
    const noId = resolveClawmatrix({ secret: SECRET });
    expect(noId.ok ? undefined : noId.status).toMatchObject({
      state: "unconfigured",
      reason: "clawmatrix is enabled but missing nodeId (CLAWMATRIX_NODE_ID)",
      problems: ["nodeId (CLAWMATRIX_NODE_ID): required"],
    });
  });
});

describe("clawmatrix status", () => {
  it("reports config facts while the service has not started, and never the secret", () => {
    const { resolved } = resolvedService({
      nodeId: "node-a",
      listen: true,
      agents: [{ id: "main" }],
      models: [{ id: "m1", provider: "llm" }],
      tags: ["home"],
    });
    const st = clawmatrixStatus(resolved);
    expect(st).toEqual({
      id: "clawmatrix",
      enabled: true,
      configured: true,
      state: "idle",
      reason: "configured; the mesh service has not started yet",
      nodeId: "node-a",
      listen: "127.0.0.1:19000",
      agents: ["main"],
      models: ["m1"],
      tags: ["home"],
      toolProxy: false,
      proxyPort: 19001,
    });
    expect(JSON.stringify(st)).not.toContain(SECRET);
    expect(clawmatrixStatus(resolveClawmatrix({})).state).toBe("disabled");
  });

  it("is running with every configured peer linked, degraded naming those that are not", async () => {
    const a = resolvedService({ nodeId: "node-a", listen: true });
    await a.s.start();
    // A port nobody listens on: the peer configured there is never linked.
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const peers = [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.s.node.listenPort}` }];
    // StatefulSet: every replica gets the same peer list, its own entry included; it is skipped.
    const b = resolvedService({
      nodeId: "node-b",
      peers: [...peers, { nodeId: "node-b", url: peers[0]?.url }],
    });
    await b.s.start();
    await expect.poll(() => b.s.node.links.has("node-a"), { timeout: 5000 }).toBe(true);
    const running = clawmatrixStatus(b.resolved, b.s);
    expect(running).toMatchObject({ state: "running", links: ["node-a"], counters: { authFailures: 0 } });
    // The identity a peer would list in CLAWMATRIX_TRUSTED_KEYS (PROTOCOL §3b), never the private half.
    expect(running.publicKey).toBe(b.s.identity.key.publicKey);
    expect(JSON.stringify(running)).not.toContain(b.s.identity.key.toStored().d);
    expect(running.reason).toBeUndefined();
    expect(running.peers).toEqual([expect.objectContaining({ nodeId: "node-a", status: "direct" })]);
    await new Promise((r) => setTimeout(r, 200));
    expect(b.s.node.status().counters.authFailures).toBe(0);

    const c = resolvedService({
      nodeId: "node-c",
      peers: [...peers, { nodeId: "node-z", url: `ws://127.0.0.1:${deadPort}` }],
    });
    await c.s.start();
    await expect.poll(() => c.s.node.links.has("node-a"), { timeout: 5000 }).toBe(true);
    expect(clawmatrixStatus(c.resolved, c.s)).toMatchObject({
      state: "degraded",
      reason: "not linked to configured peer(s): node-z",
    });
  });

  it("gives a TLS listener's pin, which a wss:// peer dials with, and the table prints it", async () => {
    const a = resolvedService({ nodeId: "node-a", listen: true, tls: { selfSigned: true } });
    await a.s.start();
    const pin = clawmatrixStatus(a.resolved, a.s).tlsPin as string;
    expect(pin).toMatch(/^#sha256=[0-9a-f]{64}$/);
    expect(pin).toBe(`#sha256=${a.s.node.status().tlsFingerprint}`);
    const b = resolvedService({
      nodeId: "node-b",
      // In the plugin config the pin is its own field; CLAWMATRIX_PEERS takes it as the URL's fragment.
      peers: [{ nodeId: "node-a", url: `wss://127.0.0.1:${a.s.node.listenPort}`, fingerprint: pin.slice(8) }],
    });
    await b.s.start();
    await expect.poll(() => b.s.node.links.has("node-a"), { timeout: 5000 }).toBe(true);
    expect(clawmatrixStatus(b.resolved, b.s).tlsPin).toBeUndefined(); // it serves no TLS
    const { formatStatus } = await import("./cli.ts");
    expect(formatStatus({ nodeId: "node-a", state: "running", tlsPin: pin }).split("\n")[2]).toBe(
      `tls pin ${pin}  (append to this node's wss:// URL in CLAWMATRIX_PEERS)`,
    );
  });

  it("says why the mesh failed to start, and that a stopped one is stopped", async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
    opened.push({ stop: () => new Promise((r) => holder.close(() => r())) });
    const port = (holder.address() as net.AddressInfo).port;
    const failed = resolvedService({ nodeId: "node-a", proxyPort: port });
    await failed.s.start().catch(() => {});
    expect(clawmatrixStatus(failed.resolved, failed.s)).toMatchObject({
      state: "error",
      reason: expect.stringMatching(/^the mesh failed to start: .*EADDRINUSE/),
    });
    const stopped = resolvedService({ nodeId: "node-b" });
    await stopped.s.start();
    await stopped.s.stop();
    expect(clawmatrixStatus(stopped.resolved, stopped.s)).toMatchObject({
      state: "idle",
      reason: "mesh service stopped",
    });
  });
});
