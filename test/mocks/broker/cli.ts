import { parseArgs } from "node:util";
import { closeOnSignals, intOption } from "../cli-kit.ts";
import { parseGrants } from "./agentrux-api.ts";
import { startMockBroker } from "./server.ts";

// Standalone mock broker (AgenTrux API + Auth Manager lease API) for the local topology and the
// compose file: node test/mocks/broker/cli.ts --port 8080 --credentials 3
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    credentials: { type: "string", default: "3" },
    "lease-token": { type: "string" },
    "lease-reclaim-after-seconds": { type: "string" },
    // With MOCK_AGENTRUX_ACTIVATION_CODE: one script with these grants, activated by that code.
    "agentrux-grants": { type: "string" },
  },
});
const port = intOption("port", values.port, 0, 65535);
const credentials = intOption("credentials", values.credentials, 0, 1000);
// The real server reclaims a lease unseen for 180 s; tests that stop a gateway longer may raise it.
const reclaim = values["lease-reclaim-after-seconds"] ?? process.env.MOCK_BROKER_LEASE_RECLAIM_AFTER_SECONDS;
const reclaimAfterSeconds = reclaim
  ? intOption("lease-reclaim-after-seconds", reclaim, 1, 86_400)
  : undefined;
const presetCode = process.env.MOCK_AGENTRUX_ACTIVATION_CODE;
const grants = values["agentrux-grants"];
const broker = await startMockBroker({
  host: values.host,
  port,
  agentrux:
    grants && presetCode ? { preset: { grants: parseGrants(grants), activationCode: presetCode } } : {},
  lease: {
    credentials,
    token: values["lease-token"] ?? process.env.MOCK_BROKER_LEASE_TOKEN,
    reclaimAfterSeconds,
  },
});
console.log(`mock-broker listening on ${broker.url}`);
closeOnSignals(() => broker.close());
