import { CLI_DESCRIPTOR } from "./cli.ts";
import { clawmatrixConfig } from "./config-schema.ts";
import { TOOL_NAMES } from "./tool-names.ts";

/** One source for the entry and the generated openclaw.plugin.json. */
export const MANIFEST = {
  id: "clawmatrix",
  name: "ClawMatrix",
  description: "Mesh between OpenClaw gateways: model proxy, task handoff, remote tools, gossip, failover",
  config: clawmatrixConfig,
  tools: TOOL_NAMES,
  cliCommands: [CLI_DESCRIPTOR],
} as const;
