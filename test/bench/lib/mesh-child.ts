import { createLogger } from "@openclaw-bundle/shared";
import { MeshNode } from "../../../extensions/clawmatrix/src/mesh/node.ts";

// A mesh node in its own process, for the kill-detection benchmark:
// node mesh-child.ts <nodeId> <secret> <url of the node to dial>; prints "linked" once linked.
const [id, secret, url] = process.argv.slice(2) as [string, string, string];
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const node = new MeshNode({
  nodeId: id,
  secret,
  peers: [{ nodeId: "observer", url }],
  state: { agents: [], models: [], tags: [], toolProxy: false },
  handlers: {},
  logger: createLogger({ extension: id, sink: quiet }),
});
await node.start();
const timer = setInterval(() => {
  if (node.links.size > 0) {
    clearInterval(timer);
    process.stdout.write("linked\n");
  }
}, 10);
setInterval(() => {}, 1 << 30);
