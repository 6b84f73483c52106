import { spawn } from "node:child_process";
import { createServer } from "node:https";
import path from "node:path";
import WebSocket, { WebSocketServer } from "ws";
import type { MeshNode } from "../../extensions/clawmatrix/src/mesh/node.ts";
import { freezableProxy } from "../../extensions/clawmatrix/src/mesh/test-fixture.ts";
import { makeSelfSigned } from "../../extensions/clawmatrix/src/protocol/tls-cert.ts";
import { findNode24 } from "../harness/node24.ts";
import { describeFloors, frameCosts } from "./lib/frame-costs.ts";
import { fmt, median, meshNode, N_RTT, ROUNDS, until } from "./lib/mesh-common.ts";

// Issue 16's mesh figures, each against a baseline measured in the same run (called by mesh.ts):
// round trips over wss:// against a raw TLS echo, legitimate p99 and listener RSS while 1,000
// strangers hold connections, and the time to notice a peer whose packets simply stop.

const cert = makeSelfSigned({ commonName: "bench", dnsNames: ["localhost"], ips: ["127.0.0.1"] });

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] as number;

/** Mean round trip (ms) of N sequential echo messages over a bare wss:// (TLS) connection. */
async function rawTlsEcho(n: number): Promise<number> {
  const https = createServer({ cert: cert.cert, key: cert.key });
  const server = new WebSocketServer({ server: https });
  server.on("connection", (ws) => ws.on("message", (d) => ws.send(JSON.stringify(JSON.parse(String(d))))));
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  const port = (https.address() as { port: number }).port;
  const ws = new WebSocket(`wss://127.0.0.1:${port}`, { rejectUnauthorized: false });
  await new Promise((r) => ws.once("open", r));
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await new Promise<void>((resolve) => {
      ws.once("message", () => resolve());
      ws.send(JSON.stringify({ t: "req", i }));
    });
  const ms = (performance.now() - t0) / n;
  ws.close();
  server.close();
  await new Promise((r) => https.close(r));
  return ms;
}

async function meshEcho(from: MeshNode, to: string, n: number): Promise<number[]> {
  const each: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await from.requests.send(to, "chat", { i });
    each.push(performance.now() - t0);
  }
  return each;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** 1-hop and 2-hop round trips over wss:// with pinning, against a raw TLS echo. */
export async function tlsRoundTrips(rawWsEcho: (n: number) => Promise<number>): Promise<void> {
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 }, tls: cert });
  const url = `wss://127.0.0.1:${a.listenPort}`;
  const peer = { nodeId: "node-a", url, fingerprint: cert.fingerprint };
  const b = await meshNode("node-b", { peers: [peer] });
  const c = await meshNode("node-c", { peers: [peer] });
  await until(() => c.table.route("node-b") !== undefined);
  await meshEcho(c, "node-b", 200);
  await rawTlsEcho(200);
  const ws: number[] = [];
  const tls: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ws.push(await rawWsEcho(N_RTT));
    tls.push(await rawTlsEcho(N_RTT));
    one.push(mean(await meshEcho(b, "node-a", N_RTT)));
    two.push(mean(await meshEcho(c, "node-b", N_RTT)));
  }
  const [w, t] = [median(ws), median(tls)];
  console.log(
    `round trip over wss:// (TLS + per-frame AEAD + origin MACs on relayed frames), ${N_RTT} x ${ROUNDS} rounds:`,
  );
  console.log(`  raw ws echo        ${fmt(w * 1000)} us   (baseline 1)`);
  console.log(`  raw TLS echo       ${fmt(t * 1000)} us   ${(t / w).toFixed(2)}x ws   (baseline 2)`);
  for (const [name, xs, target] of [
    ["mesh wss 1 hop     ", one, 1.3],
    ["mesh wss 2 hops    ", two, 2.6],
  ] as const)
    console.log(
      `  ${name}${fmt(median(xs) * 1000)} us   ${(median(xs) / t).toFixed(2)}x TLS echo (target <= ${target}x)   ${(median(xs) / w).toFixed(2)}x ws echo`,
    );
  console.log(
    describeFloors(frameCosts(), t * 1000, "of the raw TLS echo (TLS's own crypto is in the echo)"),
  );
  await Promise.all([a.stop(), b.stop(), c.stop()]);
}

/** Legitimate p99 and the listener's RSS while 1,000 strangers (another process) hold connections. */
export async function strangers(): Promise<void> {
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const b = await meshNode("node-b", {
    peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.listenPort}` }],
  });
  await until(() => b.table.route("node-a") !== undefined);
  await meshEcho(b, "node-a", 500);
  const quiet = await meshEcho(b, "node-a", N_RTT);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const child = spawn(
    findNode24(),
    [path.join(import.meta.dirname, "lib/strangers-child.ts"), String(a.listenPort), "1000"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => String(d).includes("holding") && resolve());
      child.once("exit", (code) => reject(new Error(`strangers exited with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = await meshEcho(b, "node-a", N_RTT);
    const held = a.status().pendingHandshakes;
    const [q99, l99] = [pct(quiet, 0.99), pct(loaded, 0.99)];
    console.log(
      `listener under 1,000 strangers holding half-sent upgrades (another process, 1,000 loopback addresses):`,
    );
    console.log(
      `  legitimate 1-hop p99 quiet ${fmt(q99)} ms, under strangers ${fmt(l99)} ms: ${(l99 / q99).toFixed(2)}x (target <= 2x)`,
    );
    console.log(
      `  listener process RSS ${(rss0 / 2 ** 20).toFixed(0)} MB -> peak ${(peak / 2 ** 20).toFixed(0)} MB: +${((peak - rss0) / 2 ** 20).toFixed(1)} MB (target < 50 MB); ${held} pending handshakes held, ${a.counters.authFailures} refused`,
    );
  } finally {
    clearInterval(sampler);
    child.kill("SIGKILL");
    await Promise.all([a.stop(), b.stop()]);
  }
}

/**
 * A peer whose packets stop (a proxy that forwards nothing more and closes nothing): time until
 * the link is declared dead and until an in-flight request is answered by the next candidate,
 * against the same with a reset connection (baseline: noticed at once).
 */
export async function silentFailure(): Promise<void> {
  const rows: Record<"silent" | "reset", { detect: number[]; failover: number[] }> = {
    silent: { detect: [], failover: [] },
    reset: { detect: [], failover: [] },
  };
  for (let r = 0; r < ROUNDS; r++)
    for (const mode of ["reset", "silent"] as const) {
      let started = false;
      const hang = (_b: unknown, ctx: { signal: AbortSignal }) =>
        new Promise((_res, reject) => {
          started = true;
          ctx.signal.addEventListener("abort", () => reject(new Error("aborted")));
        });
      const b1 = await meshNode("node-b1", {
        listen: { host: "127.0.0.1", port: 0 },
        handlers: { chat: hang },
      });
      const b2 = await meshNode("node-b2", { listen: { host: "127.0.0.1", port: 0 } });
      const proxy = await freezableProxy(b1.listenPort as number);
      const c = await meshNode("node-c", {
        peers: [
          { nodeId: "node-b1", url: `ws://127.0.0.1:${proxy.port}` },
          { nodeId: "node-b2", url: `ws://127.0.0.1:${b2.listenPort}` },
        ],
      });
      await until(() => c.links.get("node-b1")?.open === true && c.links.get("node-b2")?.open === true);
      const answer = c.requests.call(["node-b1", "node-b2"], "chat", "q");
      await until(() => started);
      const t0 = performance.now();
      if (mode === "silent") proxy.freeze();
      else await proxy.close();
      let detect = 0;
      const watch = setInterval(() => {
        // Noticed: the link is quiet (routed around, movable requests moved) or cut.
        if (!detect && (!c.links.has("node-b1") || c.links.get("node-b1")?.quiet))
          detect = performance.now() - t0;
      }, 5);
      await answer;
      rows[mode].failover.push(performance.now() - t0);
      await until(() => detect > 0);
      clearInterval(watch);
      rows[mode].detect.push(detect);
      await proxy.close().catch(() => {});
      await Promise.all([b1.stop(), b2.stop(), c.stop()]);
    }
  const s = rows.silent;
  const k = rows.reset;
  console.log(`peer whose packets stop (no FIN/RST), ${ROUNDS} rounds (median), against a reset connection:`);
  console.log(
    `  detected after ${fmt(median(s.detect))} ms (target <= 3000; reset: ${fmt(median(k.detect))} ms); in-flight request answered by the next candidate after ${fmt(median(s.failover))} ms (target <= 5000; reset: ${fmt(median(k.failover))} ms)`,
  );
}
