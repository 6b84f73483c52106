import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import { type AgentRegistryConfig, agentRegistryConfig } from "./config-schema.ts";

import { MANIFEST } from "./manifest.ts";

export const PLUGIN_ID = MANIFEST.id;

export function resolveAgentRegistry(raw: unknown): ResolvedConfig<AgentRegistryConfig> {
  return resolvePluginConfig(agentRegistryConfig, raw, {
    id: PLUGIN_ID,
    disabledReason: (r) =>
      r.registryUrl === undefined ? "no registry configured (set AGENT_REGISTRY_URL)" : undefined,
    missing: (c) => (c.hostname ? [] : ["hostname"]),
  });
}

export function agentRegistryStatus(resolved: ResolvedConfig<AgentRegistryConfig>): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  return {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    state: "idle",
    reason: c.discoverable
      ? "configured; registration and messaging are not part of this build yet"
      : "not discoverable: the agent is not registered",
    registryUrl: c.registryUrl,
    hostname: c.hostname,
    capabilities: c.capabilities,
    transport: c.transport,
  };
}
