import { afterEach, describe, expect, it, vi } from "vitest";
import type { Handler } from "./requests.ts";
import { meshFixture, until } from "./test-fixture.ts";

// PROTOCOL §5 link-up: each side sends a digest of what it holds, and gets back only what it
// lacks or holds older. Real nodes over real WebSockets on loopback.

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
});
