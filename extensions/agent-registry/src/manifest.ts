import { agentRegistryConfig } from "./config-schema.ts";

/** One source for the entry and the generated openclaw.plugin.json. */
export const MANIFEST = {
  id: "agent-registry",
  name: "Agent Registry",
  description: "Agent Registry channel with Pilot P2P messaging",
  config: agentRegistryConfig,
  channels: ["agent-registry"],
  tools: ["agent_network"],
} as const;
