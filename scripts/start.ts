import { config as loadDotenv } from "dotenv";
import { openclawEntry } from "../test/harness/node24.ts";
import { Topology } from "../test/harness/topology.ts";
import { observabilityLines } from "./start-urls.ts";

// `npm start`: the test topology of docker-compose.yml (node-a, node-b, node-c, the mock LLM and
// the mock broker) as local processes, each node started through entrypoint.sh with the
// environment of its compose service. A `.env` file beside package.json overrides the compose
// file's `${VAR:-default}` values (e.g. OPENCLAW_GATEWAY_TOKEN_A, CLAWMATRIX_SECRET).
// Ctrl-C or SIGTERM stops everything.

loadDotenv({ quiet: true });
const out = (line = "") => process.stdout.write(`${line}\n`);

const topology = new Topology({ freePorts: process.argv.includes("--free-ports") });
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  out(`${signal}: stopping every node and mock`);
  await topology.stop();
  out("stopped");
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

out("starting node-a, node-b, node-c through entrypoint.sh (about 30-60 s on two cores) ...");
const t0 = Date.now();
try {
  await topology.start();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
out(`ready in ${Math.round((Date.now() - t0) / 1000)} s`);
out(`mock LLM     ${topology.llm?.url ?? "-"}`);
out(`mock broker  ${topology.broker?.url ?? "-"}`);
out(`mock registry ${topology.registry?.url ?? "-"}`);
for (const n of topology.nodes) {
  out();
  out(`${n.name}  ${n.url}`);
  out(`  token   ${n.token}`);
  out(`  config  ${n.configPath}`);
  out(`  logs    ${n.outFile}`);
  for (const line of observabilityLines(n.url, n.token)) out(line);
}
const a = topology.nodes.find((n) => n.name === "node-a");
const b = topology.nodes.find((n) => n.name === "node-b");
if (a && b) {
  out();
  out("mesh status of a node:");
  out(
    `  ${process.execPath} ${openclawEntry()} gateway call clawmatrix.status --url ${a.wsUrl} --token ${a.token} --json`,
  );
  out("an agent turn (node-b serves the model, so its chat endpoint is on):");
  out(
    `  curl -s ${b.url}/v1/chat/completions -H 'authorization: Bearer ${b.token}' -H 'content-type: application/json' -d '{"model":"openclaw/default","messages":[{"role":"user","content":"hello"}]}'`,
  );
}
out();
out("Ctrl-C stops everything.");
