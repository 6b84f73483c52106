import { afterEach, describe, expect, it } from "vitest";
import type { Handler } from "./requests.ts";
import { meshFixture, until } from "./test-fixture.ts";

// PROTOCOL §6-7 overload control on loopback: caps on served requests, lost callers cancel
// their work, and kinds with effects are not run twice.

const mesh = meshFixture();
const node = mesh.node;
afterEach(mesh.reset);

/** A handler that holds every request until released, and records aborts. */
function gate() {
  const held: Array<() => void> = [];
  let aborted = 0;
  let started = 0;
  const handler: Handler = (_b, ctx) =>
    new Promise((resolve) => {
      started++;
      ctx.signal.addEventListener("abort", () => {
        aborted++;
        resolve("aborted");
      });
      held.push(() => resolve("done"));
    });
  return {
    handler,
    release: () => {
      for (const r of held.splice(0)) r();
    },
    get aborted() {
      return aborted;
    },
    get started() {
      return started;
    },
  };
}

describe("PROTOCOL §7 overload control", () => {
  it("answers OVERLOADED beyond the per-peer and global caps, and serves again once work ends", async () => {
    const g = gate();
    const a = await node("node-a", {
      listen: { host: "127.0.0.1", port: 0 },
      handlers: { handoff: g.handler },
      limits: { maxServingPerPeer: 2, maxServing: 3 },
    });
    const url = `ws://127.0.0.1:${a.listenPort}`;
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url }] });
    const c = await node("node-c", { peers: [{ nodeId: "node-a", url }] });
    await until(() => b.links.has("node-a") && c.links.has("node-a"));
    const fromC = [1, 2, 3].map(() => c.requests.send("node-a", "handoff", {}).then(String, (e) => e.code));
    await until(() => g.started === 2);
    expect(await fromC[2]).toBe("MESH_ERR_OVERLOADED"); // node-c's third: over its own share
    const fromB = [1, 2].map(() => b.requests.send("node-a", "handoff", {}).then(String, (e) => e.code));
    await until(() => g.started === 3);
    expect(await fromB[1]).toBe("MESH_ERR_OVERLOADED"); // the global cap of 3
    expect(a.counters.overloaded).toBe(2);
    g.release();
    expect(await Promise.all([fromC[0], fromC[1], fromB[0]])).toEqual(["done", "done", "done"]);
    const again = c.requests.send("node-a", "handoff", {});
    await until(() => g.started === 4);
    g.release();
    expect(await again).toBe("done");
  });

  it("aborts the work a caller asked for when the caller is lost", async () => {
    const g = gate();
    const a = await node("node-a", {
      listen: { host: "127.0.0.1", port: 0 },
      handlers: { handoff: g.handler },
    });
    const c = await node("node-c", { peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.listenPort}` }] });
    await until(() => c.links.has("node-a"));
    const calls = [1, 2, 3].map(() => c.requests.send("node-a", "handoff", {}).catch((e) => e.code));
    await until(() => g.started === 3);
    // Simulated SIGKILL of the caller: its sockets cut, no cancel frames.
    for (const l of c.links.values()) l.ws.terminate();
    await until(() => g.aborted === 3, 2000);
    expect(a.requests.serving).toBe(0);
    expect(await Promise.all(calls)).toEqual(Array(3).fill("MESH_ERR_UNREACHABLE"));
  });

  it("never retries a started tool call, send or handoff; retries chat and what never started", async () => {
    let ranB = 0;
    let ranB2 = 0;
    const slow: Handler = async () => {
      ranB++;
      await new Promise((r) => setTimeout(r, 600));
      return "late";
    };
    const fast: Handler = async () => {
      ranB2++;
      return "b2";
    };
    const a = await node("node-a", { listen: { host: "127.0.0.1", port: 0 } });
    const url = `ws://127.0.0.1:${a.listenPort}`;
    await node("node-b", {
      peers: [{ nodeId: "node-a", url }],
      handlers: { tool: slow, send: slow, handoff: slow, chat: slow },
    });
    await node("node-b2", {
      peers: [{ nodeId: "node-a", url }],
      handlers: { tool: fast, send: fast, handoff: fast, chat: fast },
    });
    await until(() => a.table.route("node-b") !== undefined && a.table.route("node-b2") !== undefined);
    for (const kind of ["tool", "send", "handoff"] as const)
      await expect(
        a.requests.call(["node-b", "node-b2"], kind, {}, { timeoutMs: 200 }),
      ).rejects.toMatchObject({
        code: "MESH_ERR_TIMEOUT",
      });
    expect([ranB, ranB2]).toEqual([3, 0]);
    expect(await a.requests.call(["node-b", "node-b2"], "chat", {}, { timeoutMs: 200 })).toEqual({
      node: "node-b2",
      body: "b2",
    });
    // A node with no route never started anything: even a tool call moves on.
    expect(await a.requests.call(["node-gone", "node-b2"], "tool", {}, { timeoutMs: 200 })).toEqual({
      node: "node-b2",
      body: "b2",
    });
  });

  it("retries a tool call refused as OVERLOADED (it never started)", async () => {
    const g = gate();
    let ran = 0;
    const a = await node("node-a", { listen: { host: "127.0.0.1", port: 0 } });
    const url = `ws://127.0.0.1:${a.listenPort}`;
    await node("node-b", {
      peers: [{ nodeId: "node-a", url }],
      handlers: { tool: g.handler },
      limits: { maxServing: 1 },
    });
    await node("node-b2", {
      peers: [{ nodeId: "node-a", url }],
      handlers: {
        tool: async () => {
          ran++;
          return "b2";
        },
      },
    });
    await until(() => a.table.route("node-b") !== undefined && a.table.route("node-b2") !== undefined);
    const first = a.requests.send("node-b", "tool", {});
    await until(() => g.started === 1);
    expect((await a.requests.call(["node-b", "node-b2"], "tool", {})).node).toBe("node-b2");
    expect(ran).toBe(1);
    g.release();
    expect(await first).toBe("done");
  });
});
