import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import { type AgentruxConfig, agentruxConfig } from "./config-schema.ts";

import { MANIFEST } from "./manifest.ts";

export const PLUGIN_ID = MANIFEST.id;

const REQUIRED = ["commandTopicId", "resultTopicId", "agentId"] as const;

export function resolveAgentrux(raw: unknown): ResolvedConfig<AgentruxConfig> {
  return resolvePluginConfig(agentruxConfig, raw, {
    id: PLUGIN_ID,
    // Any topic key means the user meant to use AgenTrux; then the rest is required.
    disabledReason: (r) =>
      REQUIRED.some((k) => r[k] !== undefined)
        ? undefined
        : "no AgenTrux topics configured (set AGENTRUX_COMMAND_TOPIC_ID and AGENTRUX_RESULT_TOPIC_ID)",
    missing: (c) => REQUIRED.filter((k) => !c[k]),
  });
}

export function agentruxStatus(resolved: ResolvedConfig<AgentruxConfig>): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  return {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    state: "idle",
    reason: "configured; the AgenTrux channel is not part of this build yet",
    baseUrl: c.baseUrl,
    topics: { command: c.commandTopicId, result: c.resultTopicId },
    agentId: c.agentId,
  };
}
