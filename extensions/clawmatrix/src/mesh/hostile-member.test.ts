import { afterEach, describe, expect, it } from "vitest";
import { meshFixture, until } from "./test-fixture.ts";

// PROTOCOL §2: what a member with the secret can put in a frame, over real links on loopback.

const mesh = meshFixture({ handlers: { chat: async (body) => body } });
const { node } = mesh;
afterEach(mesh.reset);

describe("a hostile member's frames", () => {
  it("a frame nested 2,000,000 deep is refused; the relay neither crashes nor loses its links", async () => {
    const a = await node("node-a", { listen: { host: "127.0.0.1", port: 0 } });
    const url = `ws://127.0.0.1:${a.listenPort}`;
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url }] });
    await node("node-c", { peers: [{ nodeId: "node-a", url }] });
    await until(() => b.table.route("node-c") !== undefined);
    const dropped = a.counters.framesDropped;
    const deep = `${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`;
    const text = `{"t":"req","id":"deep-frame-0001","src":"node-b","dst":"node-c","ttl":8,"kind":"chat","body":${deep}}`;
    b.links.get("node-a")?.sendEncoded("req", Buffer.from(text));
    await until(() => a.counters.framesDropped > dropped);
    expect(b.links.get("node-a")?.open).toBe(true);
    expect((await b.requests.call(["node-c"], "chat", { after: "deep" })).body).toEqual({ after: "deep" });
  });

  it("a node never sends what its peer must refuse: too deep a request or answer is an error at once", async () => {
    const nest = (n: number): unknown => (n === 0 ? "x" : [nest(n - 1)]);
    const a = await node("node-a", {
      listen: { host: "127.0.0.1", port: 0 },
      handlers: { chat: async (body) => ((body as { deep?: number }).deep ? nest(100) : body) },
    });
    const b = await node("node-b", { peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.listenPort}` }] });
    await until(() => b.table.route("node-a") !== undefined);
    await expect(b.requests.send("node-a", "chat", nest(100))).rejects.toMatchObject({
      code: "MESH_ERR_TOO_LARGE",
      message: expect.stringMatching(/nested deeper than 64/),
    });
    await expect(b.requests.send("node-a", "chat", { deep: 1 })).rejects.toMatchObject({
      code: "MESH_ERR_TOO_LARGE",
      message: expect.stringMatching(/the answer is nested deeper than 64/),
    });
    expect(await b.requests.send("node-a", "chat", nest(40))).toEqual(nest(40));
  });
});
