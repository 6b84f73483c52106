import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import { type AgentruxConfig, agentruxConfig } from "./config-schema.ts";

import { MANIFEST } from "./manifest.ts";
import type { AgentruxService } from "./service.ts";

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

/** `agentrux-openclaw-plugin.status`: activation, topics, waterline, SSE state, counters; no secrets. */
export function agentruxStatus(
  resolved: ResolvedConfig<AgentruxConfig>,
  live?: AgentruxService,
): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  const base = {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    baseUrl: c.baseUrl,
    topics: { command: c.commandTopicId, result: c.resultTopicId },
    agentId: c.agentId,
  };
  if (!live)
    return { ...base, state: "idle", reason: "configured; the AgenTrux channel has not started yet" };
  const activation = live.activation?.state;
  if (!live.running)
    return { ...base, state: "degraded", reason: live.lastError ?? "not running", activation };
  if (live.ingress?.waterline === undefined)
    return {
      ...base,
      state: "idle",
      reason: "starting: finding the command topic's newest event (a first start skips what came before)",
      activation,
    };
  return {
    ...base,
    state: live.sse === "open" ? "running" : "degraded",
    ...(live.sse === "open"
      ? {}
      : {
          reason: `SSE hint stream ${live.sse}; requests still arrive by polling${live.lastError ? ` (${live.lastError})` : ""}`,
        }),
    activation,
    sse: live.sse,
    waterline: live.ingress?.waterline,
    active: live.ingress?.active,
    maxConcurrency: c.maxConcurrency,
    counters: live.ingress?.counters,
    ...(live.ingress?.saveError ? { saveError: live.ingress.saveError } : {}),
  };
}
