import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import { type ClawmatrixConfig, clawmatrixConfig } from "./config-schema.ts";

import { MANIFEST } from "./manifest.ts";

export const PLUGIN_ID = MANIFEST.id;

export function resolveClawmatrix(raw: unknown): ResolvedConfig<ClawmatrixConfig> {
  return resolvePluginConfig(clawmatrixConfig, raw, {
    id: PLUGIN_ID,
    disabledReason: (r) =>
      r.secret === undefined ? "no mesh secret configured (set CLAWMATRIX_SECRET)" : undefined,
    missing: (c) => (c.nodeId ? [] : ["nodeId (CLAWMATRIX_NODE_ID)"]),
  });
}

/** What `clawmatrix.status` answers before the mesh transport exists: config facts only, never the secret. */
export function clawmatrixStatus(resolved: ResolvedConfig<ClawmatrixConfig>): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  return {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    state: "idle",
    reason: "configured; the mesh transport is not part of this build yet",
    nodeId: c.nodeId,
    listen: c.listen ? `${c.listenHost}:${c.listenPort}` : false,
    peers: c.peers.map((p) => p.nodeId),
    agents: c.agents.map((a) => a.id),
    models: c.models.map((m) => m.id),
    tags: c.tags,
    toolProxy: c.toolProxy.enabled,
  };
}
