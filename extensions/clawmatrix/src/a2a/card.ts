/**
 * The mesh endpoint's Agent Card (A2A 1.0, JSON form): one skill per agent of the other nodes of
 * the mesh, naming the nodes that serve it and their tags, so a client that knows one gateway
 * finds every agent it can reach through it. Agents of this node are the host's own A2A channel's
 * (`/a2a/v1`), and are not repeated here. Pure: the mesh's state in, the card out.
 */

import type { AgentCard } from "@a2a-js/sdk";

export const A2A_MESH_PATH = "/bundle/a2a/v1";
export const A2A_MESH_CARD_PATH = "/bundle/a2a/agent-card.json";

export interface MeshAgentView {
  nodeId: string;
  tags: string[];
  agents: Array<{ id: string; description?: string; tags: string[] }>;
}

/** The card in the SDK's own model; served as its JSON, as the SDK's own card handler does. */
export type MeshCard = AgentCard;

const INPUT_MODES = ["text/plain", "application/json"];
const OUTPUT_MODES = ["text/plain"];
/** A card is read by every client on every connect: bounded whatever the mesh holds. */
export const MAX_CARD_SKILLS = 512;

export function meshCard(opts: {
  selfId: string;
  origin: string;
  version: string;
  nodes: MeshAgentView[];
}): MeshCard {
  const byAgent = new Map<string, { description?: string; nodes: string[]; tags: Set<string> }>();
  for (const n of opts.nodes) {
    if (n.nodeId === opts.selfId) continue;
    for (const a of n.agents) {
      const e = byAgent.get(a.id) ?? { description: a.description, nodes: [], tags: new Set<string>() };
      e.nodes.push(n.nodeId);
      for (const t of [...a.tags, ...n.tags]) e.tags.add(t);
      byAgent.set(a.id, e);
    }
  }
  const skills = [...byAgent.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, MAX_CARD_SKILLS)
    .map(([id, e]) => ({
      id,
      name: id,
      description: `${e.description ?? `Agent ${id}`} (served by ${e.nodes.sort().join(", ")}; name it in message.metadata.agent)`,
      tags: [...[...e.tags].sort(), ...e.nodes.sort().map((n) => `node:${n}`)],
      examples: [],
      inputModes: INPUT_MODES,
      outputModes: OUTPUT_MODES,
      securityRequirements: [],
    }));
  return {
    name: `${opts.selfId} (OpenClaw mesh)`,
    description:
      "Every agent of an OpenClaw mesh, reached through this gateway: a message goes to the agent " +
      "named in message.metadata.agent (an agent id, tags:<tag> or a node id) wherever it runs. " +
      "Bearer token per peer, as for the gateway's own A2A channel.",
    supportedInterfaces: [
      {
        url: `${opts.origin.replace(/\/+$/, "")}${A2A_MESH_PATH}`,
        protocolBinding: "JSONRPC",
        tenant: "",
        protocolVersion: "1.0",
      },
    ],
    provider: undefined,
    version: opts.version,
    capabilities: { streaming: true, pushNotifications: false, extensions: [] },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: INPUT_MODES,
    defaultOutputModes: OUTPUT_MODES,
    skills,
    signatures: [],
  };
}
