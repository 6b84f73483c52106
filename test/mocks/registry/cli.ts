import { parseArgs } from "node:util";
import { closeOnSignals, intOption } from "../cli-kit.ts";
import { DEFAULT_OFFLINE_AFTER_MS } from "./registry-state.ts";
import { startMockRegistry } from "./server.ts";

// Standalone mock Agent Registry (with the Pilot rendezvous under /_pilot) for the local topology
// and the compose file: node test/mocks/registry/cli.ts --port 8001 [--offline-after-ms N].
// The API key comes from the environment, not a flag, so it never shows in `ps`.
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "offline-after-ms": { type: "string", default: String(DEFAULT_OFFLINE_AFTER_MS) },
  },
});
const port = intOption("port", values.port, 0, 65535);
const offlineAfterMs = intOption("offline-after-ms", values["offline-after-ms"], 1, 86_400_000);
const registry = await startMockRegistry({
  host: values.host,
  port,
  offlineAfterMs,
  apiKey: process.env.MOCK_REGISTRY_API_KEY || undefined,
});
console.log(`mock-registry listening on ${registry.url}`);
closeOnSignals(() => registry.close());
