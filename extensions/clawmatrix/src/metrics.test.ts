import { createLogger, scrape } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { MeshNode } from "./mesh/node.ts";
import { bindMeshNode, dropReason, meshMetrics } from "./metrics.ts";

// Real nodes over loopback WebSockets: the metrics must follow what the mesh actually did.

const SECRET = "mesh-secret-0123456789abcdef";
const nodes: MeshNode[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

afterEach(async () => {
  bindMeshNode(() => undefined);
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(id: string, extra: Partial<ConstructorParameters<typeof MeshNode>[0]> = {}) {
  const n = new MeshNode({
    nodeId: id,
    secret: SECRET,
    peers: [],
    state: { agents: [], models: [], tags: [], toolProxy: false },
    handlers: { chat: async (body) => ({ echoed: body }) },
    logger: createLogger({ extension: `metrics-${id}`, sink: quiet }),
    heartbeatMs: 50,
    ...extra,
  });
  nodes.push(n);
  await n.start();
  return n;
}

async function value(line: string): Promise<number> {
  const { body } = await scrape();
  const hit = body.split("\n").find((l) => l.startsWith(`${line} `));
  return hit === undefined ? 0 : Number(hit.slice(line.length + 1));
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("mesh metrics", () => {
  it("count link bytes exactly: summed per frame, taken at each scrape, never twice", async () => {
    const line = 'clawmatrix_link_bytes_total{peer="bytes-peer",direction="in"}';
    const before = await value(line);
    for (let i = 0; i < 1000; i++) meshMetrics.bytes("bytes-peer", "in", 7);
    expect(await value(line)).toBe(before + 7000);
    expect(await value(line)).toBe(before + 7000); // a second scrape adds nothing
    meshMetrics.bytes("bytes-peer", "in", 5);
    expect(await value(line)).toBe(before + 7005);
  });

  it("count requests by kind and outcome, relays, bytes per peer, round trips and peer up", async () => {
    const a = await node("m-a", { listen: { host: "127.0.0.1", port: 0 } });
    const url = `ws://127.0.0.1:${a.listenPort}`;
    const b = await node("m-b", { peers: [{ nodeId: "m-a", url }] });
    const c = await node("m-c", { peers: [{ nodeId: "m-a", url }] });
    await until(() => b.table.route("m-c") !== undefined);
    bindMeshNode(() => b);

    const ok = 'clawmatrix_requests_total{kind="chat",outcome="ok"}';
    const relayed = "clawmatrix_frames_relayed_total";
    const [okBefore, relayedBefore] = [await value(ok), await value(relayed)];
    for (let i = 0; i < 3; i++) await b.requests.send("m-c", "chat", { i });
    expect(await value(ok)).toBe(okBefore + 3);
    // Each request and each answer crosses node-a: six relayed frames.
    expect(await value(relayed)).toBe(relayedBefore + 6);
    expect(await value('clawmatrix_request_duration_seconds_count{kind="chat"}')).toBeGreaterThanOrEqual(3);
    expect(await value('clawmatrix_requests_in_flight{kind="chat",side="caller"}')).toBe(0);
    expect(await value('clawmatrix_link_bytes_total{peer="m-a",direction="out"}')).toBeGreaterThan(0);
    expect(await value('clawmatrix_link_bytes_total{peer="m-a",direction="in"}')).toBeGreaterThan(0);
    await until(async () => (await value('clawmatrix_link_rtt_seconds_count{peer="m-a"}')) > 0);

    expect(await value('clawmatrix_peer_up{peer="m-a"}')).toBe(1);
    expect(await value('clawmatrix_peer_up{peer="m-c"}')).toBe(1);
    const unreachable = 'clawmatrix_requests_total{kind="chat",outcome="UNREACHABLE"}';
    const unreachableBefore = await value(unreachable);
    await c.stop();
    // A node that leaves is dropped at once (absent, read as 0); one that dies stays known at 0.
    await until(async () => (await value('clawmatrix_peer_up{peer="m-c"}')) === 0);
    await expect(b.requests.send("m-c", "chat", {})).rejects.toThrow();
    expect(await value(unreachable)).toBe(unreachableBefore + 1);
  });

  it("counts refused handshakes by reason and reconnects by peer", async () => {
    const a = await node("m-a", { listen: { host: "127.0.0.1", port: 0 } });
    const wrongProof = 'clawmatrix_auth_failures_total{reason="wrong_proof"}';
    const reconnects = 'clawmatrix_reconnects_total{peer="m-a"}';
    const [authBefore, reBefore] = [await value(wrongProof), await value(reconnects)];
    await node("m-x", {
      secret: "another-secret-0123456789",
      peers: [{ nodeId: "m-a", url: `ws://127.0.0.1:${a.listenPort}` }],
    });
    await until(async () => (await value(wrongProof)) > authBefore);
    await until(async () => (await value(reconnects)) > reBefore);
  });

  it("reduces drop reasons to fixed words", () => {
    expect(dropReason('to node-b: a "chat" frame of 5000000 bytes is over the limit')).toBe("oversize");
    expect(dropReason("from node-b: a text (unsealed) message on a sealed link")).toBe("unsealed");
    expect(dropReason("from node-b: something nobody expected")).toBe("malformed");
  });
});
