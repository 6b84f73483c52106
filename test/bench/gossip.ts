import { MeshNode } from "../../extensions/clawmatrix/src/mesh/node.ts";
import type { NodeState } from "../../extensions/clawmatrix/src/protocol/frames.ts";
import {
  GossipKeys,
  type GossipProof,
  signGossip,
} from "../../extensions/clawmatrix/src/protocol/gossip-sign.ts";
import { NodeKey } from "../../extensions/clawmatrix/src/protocol/identity.ts";
import { MeshTable } from "../../extensions/clawmatrix/src/protocol/table.ts";
import { fmt, quiet, SECRET, until } from "./lib/mesh-common.ts";

// Gossip convergence (issue 17: 500 nodes within 3 s, with signed gossip): N real mesh nodes in
// this one process over loopback ws (BENCH_GOSSIP_NODES, default 100,200), a ring of hubs that
// every other node dials twice, so most routes are 2-4 hops. Every node's CPU is this process's:
// each node checks every other's signed state, so the work grows with N squared and is serial
// here where a real mesh spreads it over N machines (500 nodes would take minutes). What one node
// pays to learn a mesh of 100, 500 and 1000 is measured beside it.

async function converge(N: number): Promise<{ ms: number; cpuMs: number; setupMs: number }> {
  const LISTENERS = Math.max(10, Math.round(N / 10));
  const t0 = performance.now();
  // Ports first: listeners bound to port 0 are stopped and their ports reused, so that every
  // node starts at the same instant below.
  const ports: number[] = [];
  for (let i = 0; i < LISTENERS; i++) {
    const hub = new MeshNode({
      nodeId: `n${i}`,
      secret: SECRET,
      listen: { host: "127.0.0.1", port: 0 },
      peers: [],
      state: { agents: [], models: [], tags: [], toolProxy: false },
      handlers: {},
      logger: quiet,
    });
    await hub.start();
    ports.push(hub.listenPort as number);
    await hub.stop();
  }
  const url = (i: number) => ({ nodeId: `n${i}`, url: `ws://127.0.0.1:${ports[i]}` });
  const nodes: MeshNode[] = [];
  for (let i = 0; i < N; i++) {
    const hub = i < LISTENERS;
    const peers = hub
      ? [url((i + 1) % LISTENERS)]
      : [url(i % LISTENERS), url((i * 7) % LISTENERS)].filter(
          (p, k, all) => all.findIndex((q) => q.nodeId === p.nodeId) === k,
        );
    nodes.push(
      new MeshNode({
        nodeId: `n${i}`,
        secret: SECRET,
        ...(hub ? { listen: { host: "127.0.0.1", port: ports[i] as number } } : {}),
        peers,
        state: { agents: [], models: [], tags: [`t${i}`], toolProxy: false },
        handlers: {},
        logger: quiet,
      }),
    );
  }
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  await until(() => nodes.every((n) => n.table.routes().size === N), 120_000);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const sum = (k: "gossipNews" | "gossipCopies") => nodes.reduce((t, n) => t + n.counters[k], 0);
  console.log(
    `  per node: ${fmt(sum("gossipNews") / N)} gossip states taken, ${fmt(sum("gossipCopies") / N)} copies dropped`,
  );
  await Promise.all(nodes.map((n) => n.stop()));
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, setupMs: start - t0 };
}

/**
 * What one node of an N-node mesh does to learn it: check each origin's signature, store its
 * state, compute routes to all. The same code the receive path runs (GossipKeys, MeshTable),
 * without sockets: in a real mesh every node does this on its own CPU, at the same time.
 */
function intake(N: number): { ms: number; routes: number } {
  const ids = Array.from({ length: N }, (_, i) => `m${i}`);
  // Each node links to 2 neighbours on a ring and 2 random others: routes of up to ~log N hops.
  const links = ids.map(() => new Set<number>());
  for (let i = 0; i < N; i++) {
    for (const j of [(i + 1) % N, Math.floor(Math.random() * N)]) {
      if (j === i) continue;
      links[i]?.add(j);
      links[j]?.add(i);
    }
  }
  const seq = Date.now();
  const signed: Array<{ origin: string; state: NodeState; proof: GossipProof }> = ids.map((origin, i) => {
    const state: NodeState = {
      agents: [{ id: "main", tags: [] }],
      models: [],
      tags: [],
      links: [...(links[i] ?? [])].map((j) => ({ node: ids[j] as string, rtt: 0.5 })),
      toolProxy: false,
    };
    return { origin, state, proof: signGossip(NodeKey.generate(), origin, seq, state, false) };
  });
  const self = signed[0] as (typeof signed)[number];
  const t0 = performance.now();
  const table = new MeshTable(self.origin);
  table.setOwn(self.state);
  const keys = new GossipKeys(() => undefined);
  for (const g of signed.slice(1)) {
    if (!table.isNews(g.origin, seq)) continue;
    if (!keys.check(g.origin, seq, g.state, false, g.proof).ok)
      throw new Error("bench: a good signature refused");
    table.apply(g.origin, seq, g.state, false, g.proof);
  }
  const routes = table.routes().size;
  return { ms: performance.now() - t0, routes };
}

export async function run(): Promise<void> {
  for (const N of [100, 500, 1000]) {
    const r = intake(N);
    console.log(
      `one node takes in a ${N}-node mesh (verify, store, route ${r.routes} nodes): ${fmt(r.ms)} ms CPU`,
    );
  }
  const sizes = (process.env.BENCH_GOSSIP_NODES ?? "100,200").split(",").map(Number);
  for (const N of sizes) {
    // A hub's port, freed and bound again, may meanwhile be some dialer's ephemeral port.
    let r: Awaited<ReturnType<typeof converge>> | undefined;
    for (let attempt = 1; !r; attempt++) {
      try {
        r = await converge(N);
      } catch (err) {
        if (attempt >= 3 || (err as { code?: string }).code !== "EADDRINUSE") throw err;
      }
    }
    console.log(
      `gossip convergence: ${N} real nodes in one process over loopback ws, every node routes to every other after ${fmt(r.ms)} ms (target for 500: <= 3000 ms); CPU ${fmt(r.cpuMs)} ms, ${fmt(r.cpuMs / N)} ms per node (setup ${fmt(r.setupMs)} ms)`,
    );
  }
}
