import { startGateways, stopGateways } from "../test/harness/gateway.ts";
import { startMockLlm } from "../test/mocks/llm/server.ts";

// Until the three-node topology lands, `npm start` runs one gateway with the whole bundle loaded
// and the mock LLM as its model, so a new user sees the extensions answer in a real gateway.
const llm = await startMockLlm({ name: "mock-llm", models: ["mock-model"] });
const env = { CLAWMATRIX_SECRET: process.env.CLAWMATRIX_SECRET ?? "local-dev-secret-0123456789" };
const [gw] = await startGateways([
  {
    name: "node-a",
    llmBaseUrl: llm.url,
    env,
    extensions: {
      clawmatrix: { nodeId: "node-a", secret: "${CLAWMATRIX_SECRET}", listen: true, tags: ["review"] },
      "agentrux-openclaw-plugin": {},
      "agent-registry": {},
      "auth-manager-lease-telemetry": {},
    },
  },
]);
if (!gw) throw new Error("gateway did not start");

console.log(`node-a ready in ${gw.readyAfterMs} ms`);
console.log(`  url:    ${gw.url}`);
console.log(`  token:  ${gw.token}`);
console.log(`  config: ${gw.configPath}`);
console.log(`  logs:   ${gw.outFile}`);
console.log(`  mock LLM: ${llm.url}`);
console.log("try:");
console.log(
  `  curl -s ${gw.url}/v1/chat/completions -H 'authorization: Bearer ${gw.token}' -H 'content-type: application/json' -d '{"model":"openclaw/default","messages":[{"role":"user","content":"hello"}]}'`,
);
console.log("Ctrl-C stops everything.");

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  await stopGateways([gw as NonNullable<typeof gw>]);
  await llm.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
