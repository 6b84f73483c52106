import { afterEach, describe, expect, it, vi } from "vitest";
import type { Handler } from "./requests.ts";
import { meshFixture, until } from "./test-fixture.ts";

// PROTOCOL §5 link-up: each side sends a digest of what it holds, and gets back only what it
// lacks or holds older; floods cost no more than they must. Real nodes over real WebSockets on
// loopback.

const echo: Handler = async (body, ctx) => ({ echoed: body, by: ctx.src });
const mesh = meshFixture({ handlers: { chat: echo } });
const { node } = mesh;
afterEach(mesh.reset);

async function star() {
  const a = await node("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  const url = `ws://127.0.0.1:${a.listenPort}`;
  const b = await node("node-b", { peers: [{ nodeId: "node-a", url }] });
  const c = await node("node-c", { peers: [{ nodeId: "node-a", url }] });
  await until(() => c.table.route("node-b") !== undefined && b.table.route("node-c") !== undefined);
  return { a, b, c };
}

describe("link-up catch-up", () => {
  it("a newcomer learns the mesh from the digest answer; a relink moves no unchanged state", async () => {
    const { a, c } = await star();
    const applied = vi.spyOn(c.table, "apply");
    // The link drops and the dialer brings it back: node-c already holds node-b's current state.
    c.links.get("node-a")?.terminate("test: relink");
    await until(() => c.links.get("node-a")?.open === true && a.links.get("node-c")?.open === true, 10_000);
    await until(() => c.table.route("node-b") !== undefined);
    await new Promise((r) => setTimeout(r, 300));
    const origins = applied.mock.calls.map((args) => args[0]);
    expect(origins).toContain("node-a"); // node-a's own state changed (its links): it floods that
    expect(origins).not.toContain("node-b"); // unchanged: not sent again
    expect((await c.requests.call(["node-b"], "chat", 1)).node).toBe("node-b");
  }, 20_000);

  it("answers one digest per link: a repeated one is dropped, not answered with the table", async () => {
    const { a, c } = await star();
    const applied = vi.spyOn(c.table, "apply");
    const dropped = a.counters.framesDropped;
    c.links.get("node-a")?.send({ t: "digest", known: [] });
    await until(() => a.counters.framesDropped > dropped);
    await new Promise((r) => setTimeout(r, 200));
    expect(applied.mock.calls.map((args) => args[0])).not.toContain("node-b");
  });

  it("drops a copy of a stored state before any signature check, even a badly signed one", async () => {
    const { a, b } = await star();
    const known = a.table.known("node-b");
    if (!known?.proof) throw new Error("test setup: node-a holds no signed state of node-b");
    const { copies, forged } = { copies: a.counters.gossipCopies, forged: a.counters.gossipForged };
    // node-b replays its stored seq with a signature that would fail: a copy, not a forgery.
    b.links.get("node-a")?.send({
      t: "gossip",
      id: "copy-of-a-stored-state",
      origin: "node-b",
      seq: known.seq,
      ttl: 8,
      state: known.state,
      key: known.proof.key,
      sig: "A".repeat(86),
    });
    await until(() => a.counters.gossipCopies > copies);
    expect(a.counters.gossipForged).toBe(forged);
    expect(a.table.known("node-b")?.seq).toBe(known.seq);
  });

  it("announces a burst of link changes as one state, not one per link", async () => {
    const a = await node("node-a", { listen: { host: "127.0.0.1", port: 0 } });
    const url = `ws://127.0.0.1:${a.listenPort}`;
    const watcher = await node("watcher", { peers: [{ nodeId: "node-a", url }] });
    await until(() => watcher.table.known("node-a") !== undefined);
    await new Promise((r) => setTimeout(r, 300)); // past the announcer's gap
    const applied = vi.spyOn(watcher.table, "apply");
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => node(`burst-${i}`, { peers: [{ nodeId: "node-a", url }] })),
    );
    await until(() => (watcher.table.known("node-a")?.state.links.length ?? 0) === 9, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const fromA = applied.mock.calls.filter((args) => args[0] === "node-a").length;
    // One per link (8) before the announcer; now the first at once and the rest in one or two.
    expect(fromA).toBeLessThanOrEqual(4);
    expect(fromA).toBeGreaterThanOrEqual(1);
  });
});
