import { afterEach, describe, expect, it } from "vitest";
import type { Handler } from "./requests.ts";
import { freezableProxy, meshFixture, until } from "./test-fixture.ts";

// PROTOCOL §1 "quiet": a peer whose packets stop (no FIN, no RST) or whose process stalls, at
// production settings (1 s pings, quiet after 2 s, cut after 15 s), over real sockets.

const echo: Handler = async (body, ctx) => ({ echoed: body, by: ctx.src });
const mesh = meshFixture({ handlers: { chat: echo } });
const { node, lines } = mesh;
afterEach(mesh.reset);

describe("a quiet link", () => {
  it("moves a movable request, waits for the rest, routes around, and keeps the link", async () => {
    const started: string[] = [];
    const hang: Handler = (body, ctx) =>
      new Promise((resolve, reject) => {
        started.push(String(body));
        ctx.signal.addEventListener("abort", () => reject(new Error("aborted")));
        if (body === "handoff") setTimeout(() => resolve({ done: body }), 6_000);
      });
    const state = { agents: [], models: [], tags: ["gpu"], toolProxy: false };
    const b1 = await node("node-b1", {
      listen: { host: "127.0.0.1", port: 0 },
      handlers: { chat: hang, handoff: hang },
      state,
    });
    const b2 = await node("node-b2", {
      listen: { host: "127.0.0.1", port: 0 },
      handlers: { chat: echo, handoff: echo },
      state,
    });
    const proxy = await freezableProxy(b1.listenPort as number);
    try {
      const c = await node("node-c", {
        peers: [
          { nodeId: "node-b1", url: `ws://127.0.0.1:${proxy.port}` },
          { nodeId: "node-b2", url: `ws://127.0.0.1:${b2.listenPort}` },
        ],
      });
      await until(() => c.table.candidates("tags:gpu").length === 2);
      const chat = c.requests.call(["node-b1", "node-b2"], "chat", "q");
      // A handoff may have acted already: it is never moved, whatever the link does.
      const handoff = c.requests.call(["node-b1", "node-b2"], "handoff", "handoff");
      await until(() => started.length === 2);
      const t0 = performance.now();
      proxy.freeze();
      expect(await chat).toEqual({ node: "node-b2", body: { echoed: "q", by: "node-c" } });
      const moved = performance.now() - t0;
      expect(moved).toBeGreaterThanOrEqual(1_000); // not before two pings went unanswered
      // Moved by the quiet step, not by the cut 15 s later (the bench measures how soon).
      expect(c.links.get("node-b1")?.quiet).toBe(true);
      expect(c.links.has("node-b1")).toBe(true); // quiet, not cut
      expect(c.status().peers.find((p) => p.nodeId === "node-b1")).toMatchObject({
        status: "direct",
        quiet: true,
      });
      // New work goes to the other node first while node-b1 is quiet.
      expect(c.table.candidates("tags:gpu")).toEqual(["node-b2", "node-b1"]);
      expect(lines.some((l) => /mesh link quiet: node-b1 \(nothing heard for \d+ ms\)/.test(l))).toBe(true);
      // The stall ends: what was held arrives, the handoff's answer with it, and the link is clear.
      proxy.thaw();
      expect(await handoff).toEqual({ node: "node-b1", body: { done: "handoff" } });
      await until(() => c.links.get("node-b1")?.quiet === false);
      expect(c.links.get("node-b1")?.open).toBe(true);
      expect(lines.some((l) => /mesh link node-b1 heard again/.test(l))).toBe(true);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
