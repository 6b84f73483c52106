import net from "node:net";
import { createLogger } from "@openclaw-bundle/shared";
import { MeshNode, type MeshNodeOptions } from "./node.ts";

/**
 * For the socket tests of the mesh (node, overload, TLS): real nodes on loopback, each logging
 * into one shared list of lines, all stopped by `reset()` (an afterEach).
 */

export const TEST_SECRET = "mesh-secret-0123456789abcdef";

export function meshFixture(defaults: Partial<MeshNodeOptions> = {}) {
  const nodes: MeshNode[] = [];
  const lines: string[] = [];
  const sink = {
    debug: (m: string) => lines.push(m),
    info: (m: string) => lines.push(m),
    warn: (m: string) => lines.push(m),
    error: (m: string) => lines.push(m),
  };
  return {
    lines,
    async node(id: string, opts: Partial<MeshNodeOptions> = {}): Promise<MeshNode> {
      const n = new MeshNode({
        nodeId: id,
        secret: TEST_SECRET,
        peers: [],
        state: { agents: [], models: [], tags: [], toolProxy: false },
        handlers: {},
        logger: createLogger({ extension: `clawmatrix-${id}`, sink, level: "debug" }),
        ...defaults,
        ...opts,
      });
      nodes.push(n);
      await n.start();
      return n;
    },
    async reset(): Promise<void> {
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
      lines.length = 0;
    },
  };
}

/** Polls `cond` every 20 ms; throws after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A loopback TCP proxy to `port` that can freeze: from then on it forwards nothing and closes
 * nothing, in either direction, like a cable cut or a frozen host (no FIN, no RST).
 */
export async function freezableProxy(port: number) {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  // What arrives while frozen is held, in order, and delivered by thaw(): a stall, not a loss.
  const held: Array<() => void> = [];
  const server = net.createServer((client) => {
    const up = net.connect(port, "127.0.0.1");
    sockets.add(client).add(up);
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on("data", (d) => {
        if (frozen) held.push(() => to.write(d));
        else to.write(d);
      });
      from.on("close", () => {
        if (!frozen) to.destroy();
      });
      from.on("error", () => {});
    };
    pipe(client, up);
    pipe(up, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze(): void {
      frozen = true;
    },
    thaw(): void {
      frozen = false;
      for (const write of held.splice(0)) write();
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
