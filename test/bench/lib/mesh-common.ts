import { createLogger } from "@openclaw-bundle/shared";
import { MeshNode, type MeshNodeOptions } from "../../../extensions/clawmatrix/src/mesh/node.ts";

// Shared by the mesh benchmarks (mesh.ts, mesh-hostile.ts): nodes on loopback and statistics.

export const SECRET = "bench-mesh-secret-0123456789";
export const quiet = createLogger({
  extension: "bench",
  sink: { info() {}, warn() {}, error() {}, debug() {} },
});
export const ROUNDS = 3;
export const N_RTT = 2000;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
export const fmt = (x: number) => (x < 10 ? x.toFixed(3) : x.toFixed(1));
export const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("bench setup: condition not met");
    await new Promise((r) => setTimeout(r, 5));
  }
};

export async function meshNode(id: string, o: Partial<MeshNodeOptions> = {}): Promise<MeshNode> {
  const n = new MeshNode({
    nodeId: id,
    secret: SECRET,
    peers: [],
    state: { agents: [], models: [], tags: [], toolProxy: false },
    // `echo` is gone from the protocol (issue 16); an echoing `chat` handler measures the same.
    handlers: { chat: async (b) => b },
    logger: quiet,
    ...o,
  });
  await n.start();
  return n;
}
