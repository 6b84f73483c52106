import { spawn } from "node:child_process";
import path from "node:path";
import WebSocket, { WebSocketServer } from "ws";
import type { MeshNode } from "../../extensions/clawmatrix/src/mesh/node.ts";
import { findNode24 } from "../harness/node24.ts";
import { describeFloors, frameCosts, relayChunkCosts } from "./lib/frame-costs.ts";
import { fmt, median, meshNode, N_RTT, ROUNDS, SECRET, until } from "./lib/mesh-common.ts";
import { modelProxy, modelProxyPaced, modelProxyRelayed, modelProxySeparate } from "./lib/model-proxy.ts";
import { silentFailure, strangers, tlsRoundTrips } from "./mesh-hostile.ts";

// Mesh benchmarks (issues 3 and 16; issue 16's in mesh-hostile.ts), each against a baseline measured in the same run:
// 1-hop and 2-hop request/response vs a raw ws echo; model-proxy streaming vs calling the model
// endpoint directly; time to notice a SIGKILLed node. Gossip convergence is its own benchmark (gossip.ts).

/** Mean round trip (ms) of N sequential echo messages over a bare ws connection. */
export async function rawEcho(n: number): Promise<number> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (ws) => ws.on("message", (d) => ws.send(JSON.stringify(JSON.parse(String(d))))));
  const port = (server.address() as { port: number }).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((r) => ws.once("open", r));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      ws.once("message", () => resolve());
      ws.send(JSON.stringify({ t: "req", i }));
    });
  }
  const ms = (performance.now() - t0) / n;
  ws.close();
  await new Promise((r) => server.close(r));
  return ms;
}

async function meshEcho(from: MeshNode, to: string, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await from.requests.send(to, "chat", { i });
  return (performance.now() - t0) / n;
}

export async function roundTrips(): Promise<void> {
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const url = `ws://127.0.0.1:${a.listenPort}`;
  const b = await meshNode("node-b", { peers: [{ nodeId: "node-a", url }] });
  const c = await meshNode("node-c", { peers: [{ nodeId: "node-a", url }] });
  await until(() => c.table.route("node-b") !== undefined);
  await meshEcho(c, "node-b", 200); // warm-up
  await rawEcho(200);
  const raw: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(await rawEcho(N_RTT));
    one.push(await meshEcho(b, "node-a", N_RTT));
    two.push(await meshEcho(c, "node-b", N_RTT));
  }
  const base = median(raw);
  console.log(`round trip, ${N_RTT} sequential requests x ${ROUNDS} alternating rounds (median of means):`);
  console.log(`  raw ws echo       ${fmt(base * 1000)} us   (baseline)`);
  console.log(
    `  mesh 1 hop        ${fmt(median(one) * 1000)} us   ${(median(one) / base).toFixed(2)}x   (target <= 1.3x)`,
  );
  console.log(
    `  mesh 2 hops relay ${fmt(median(two) * 1000)} us   ${(median(two) / base).toFixed(2)}x   (target <= 2.6x)`,
  );
  console.log(describeFloors(frameCosts(), base * 1000, "of the raw ws echo"));
  console.log(
    "a relay's CPU per streamed chunk (open, lower its ttl, seal), its data's bytes forwarded vs decoded and re-encoded:",
  );
  for (const kib of [16, 64, 160]) {
    const r = relayChunkCosts(kib);
    console.log(
      `  ${String(kib).padStart(3)} KiB: ${fmt(r.fast)} us vs ${fmt(r.decoded)} us   ${(r.fast / r.decoded).toFixed(2)}x`,
    );
  }
  await Promise.all([a.stop(), b.stop(), c.stop()]);
}

async function killDetection(): Promise<void> {
  const observer = await meshNode("observer", { listen: { host: "127.0.0.1", port: 0 } });
  const watcher = await meshNode("watcher", {
    peers: [{ nodeId: "observer", url: `ws://127.0.0.1:${observer.listenPort}` }],
  });
  const direct: number[] = [];
  const relayed: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const child = spawn(
      findNode24(),
      [
        path.join(import.meta.dirname, "lib/mesh-child.ts"),
        `victim${r}`,
        SECRET,
        `ws://127.0.0.1:${observer.listenPort}`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) =>
      child.stdout.on("data", (d) => String(d).includes("linked") && resolve()),
    );
    await until(() => watcher.table.route(`victim${r}`) !== undefined);
    const t0 = performance.now();
    child.kill("SIGKILL");
    let dDone = 0;
    await until(() => {
      if (!dDone && observer.table.route(`victim${r}`) === undefined) dDone = performance.now() - t0;
      return dDone > 0 && watcher.table.route(`victim${r}`) === undefined;
    });
    direct.push(dDone);
    relayed.push(performance.now() - t0);
  }
  console.log(`time to notice a SIGKILLed node, ${ROUNDS} kills (median):`);
  console.log(
    `  its direct peer ${fmt(median(direct))} ms; a node one hop further ${fmt(median(relayed))} ms   (target <= 2000 ms)`,
  );
  await Promise.all([observer.stop(), watcher.stop()]);
}

export async function run(): Promise<void> {
  await roundTrips();
  await tlsRoundTrips(rawEcho);
  await strangers();
  await silentFailure();
  await modelProxy();
  await modelProxyPaced();
  await modelProxyRelayed();
  await modelProxySeparate();
  await killDetection();
}
