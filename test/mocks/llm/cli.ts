import { parseArgs } from "node:util";
import { closeOnSignals, intOption } from "../cli-kit.ts";
import { startMockLlm } from "./server.ts";

// Standalone mock LLM for the local topology and the compose file:
// node test/mocks/llm/cli.ts --port 4100 --name mock-llm --models mock-model,other
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    name: { type: "string", default: "mock-llm" },
    models: { type: "string", default: "mock-model" },
    "api-key": { type: "string" },
  },
});
const port = intOption("port", values.port, 0, 65535);
const llm = await startMockLlm({
  host: values.host,
  port,
  name: values.name,
  models: values.models
    .split(",")
    .map((m) => m.trim())
    .filter(Boolean),
  apiKey: values["api-key"] ?? process.env.MOCK_LLM_API_KEY,
});
console.log(`${llm.name} listening on ${llm.url}`);
closeOnSignals(() => llm.close());
