import { ModelProxy } from "../../../extensions/clawmatrix/src/serve/model-proxy.ts";
import { startMockLlm } from "../../mocks/llm/server.ts";
import { meshNode, quiet, SECRET, until } from "./mesh-common.ts";
import { modelNode } from "./model-proxy.ts";

// One stage of the model-proxy path in a process of its own, as a deployment runs them:
//   node model-proxy-stage.ts llm                  the mock model
//   node model-proxy-stage.ts node-a               node-a's mesh listener and its model proxy
//   node model-proxy-stage.ts node-b <a> <model>   node-b, dialing node-a, serving the model
// Each sends { ready, ... } over the IPC channel once it serves, and answers { cpu } with its
// process's CPU ms so far, so that the parent can count what each path costs every stage.

const [role, aUrl, modelUrl] = process.argv.slice(2) as [string, string?, string?];
const send = (m: Record<string, unknown>) => process.send?.(m);
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
process.on("message", (m: { cpu?: boolean }) => {
  if (m.cpu) send({ cpu: cpuMs() });
});
process.on("disconnect", () => process.exit(0));

if (role === "llm") {
  const llm = await startMockLlm({ name: "bench-llm", models: ["mock-model"] });
  send({ ready: true, url: llm.url });
} else if (role === "node-a") {
  const a = await meshNode("node-a", { listen: { host: "127.0.0.1", port: 0 } });
  send({ listening: `ws://127.0.0.1:${a.listenPort}` });
  await until(() => a.table.modelCandidates("mock-model").includes("node-b"), 15_000).catch((err) => {
    const b = a.table.stateOf("node-b");
    throw new Error(
      `node-a never routed mock-model to node-b: links [${[...a.links.keys()]}], nodes [${a.table.nodeIds()}], node-b's models ${JSON.stringify(b?.models)}, route ${JSON.stringify(a.table.route("node-b"))}, counters ${JSON.stringify(a.counters)}`,
      { cause: err },
    );
  });
  const proxy = new ModelProxy({ node: a, secret: SECRET, port: 0, timeoutMs: 60_000, log: quiet });
  await proxy.start();
  send({ ready: true, url: `http://127.0.0.1:${proxy.port}` });
} else if (role === "node-b" && aUrl && modelUrl) {
  await modelNode(aUrl, modelUrl);
  send({ ready: true });
} else {
  throw new Error(
    `model-proxy-stage: unknown role ${JSON.stringify(role)}; expected llm, node-a or node-b <a> <model>`,
  );
}
