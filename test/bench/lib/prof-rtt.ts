import { createLogger } from "@openclaw-bundle/shared";
import { MeshNode } from "../../../extensions/clawmatrix/src/mesh/node.ts";

const quiet = createLogger({ extension: "p", sink: { info() {}, warn() {}, error() {}, debug() {} } });
const mk = async (id: string, o: object) => {
  const n = new MeshNode({
    nodeId: id,
    secret: "bench-mesh-secret-0123456789",
    peers: [],
    state: { agents: [], models: [], tags: [], toolProxy: false },
    handlers: { echo: async (b) => b },
    logger: quiet,
    ...o,
  });
  await n.start();
  return n;
};
const a = await mk("a", { listen: { host: "127.0.0.1", port: 0 } });
const b = await mk("b", { peers: [{ nodeId: "a", url: `ws://127.0.0.1:${a.listenPort}` }] });
while (!b.table.route("a")) await new Promise((r) => setTimeout(r, 10));
const t0 = performance.now();
for (let i = 0; i < 20000; i++) await b.requests.send("a", "echo", { i });
console.log("us/rt", ((performance.now() - t0) * 1000) / 20000);
await a.stop();
await b.stop();
