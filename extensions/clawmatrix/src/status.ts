import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import { type ClawmatrixConfig, clawmatrixConfig } from "./config-schema.ts";

import { MANIFEST } from "./manifest.ts";
import type { MeshService } from "./service.ts";

export const PLUGIN_ID = MANIFEST.id;

export function resolveClawmatrix(raw: unknown): ResolvedConfig<ClawmatrixConfig> {
  return resolvePluginConfig(clawmatrixConfig, raw, {
    id: PLUGIN_ID,
    disabledReason: (r) =>
      r.secret === undefined ? "no mesh secret configured (set CLAWMATRIX_SECRET)" : undefined,
    missing: (c) => (c.nodeId ? [] : ["nodeId (CLAWMATRIX_NODE_ID)"]),
  });
}

/** `clawmatrix.status`: config facts and, once the service runs, the live mesh; never the secret. */
export function clawmatrixStatus(
  resolved: ResolvedConfig<ClawmatrixConfig>,
  live?: MeshService,
): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  const base = {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    nodeId: c.nodeId,
    listen: c.listen ? `${c.listenHost}:${c.listenPort}` : false,
    agents: c.agents.map((a) => a.id),
    models: c.models.map((m) => m.id),
    tags: c.tags,
    toolProxy: c.toolProxy.enabled,
    proxyPort: c.proxyPort,
  };
  if (!live) return { ...base, state: "idle", reason: "configured; the mesh service has not started yet" };
  if (live.state === "error")
    return { ...base, state: "error", reason: `the mesh failed to start: ${live.error}` };
  if (live.state !== "running") return { ...base, state: "idle", reason: `mesh service ${live.state}` };
  const st = live.node.status();
  const unreachable = c.peers
    .filter((p) => p.nodeId !== c.nodeId && !live.node.links.has(p.nodeId))
    .map((p) => p.nodeId);
  return {
    ...base,
    state: unreachable.length > 0 ? "degraded" : "running",
    ...(unreachable.length > 0
      ? { reason: `not linked to configured peer(s): ${unreachable.join(", ")}` }
      : {}),
    publicKey: st.publicKey,
    // What a dialer appends to this node's wss:// URL in CLAWMATRIX_PEERS to pin its certificate.
    ...(st.tlsFingerprint ? { tlsPin: `#sha256=${st.tlsFingerprint}` } : {}),
    links: st.links,
    peers: st.peers,
    counters: st.counters,
  };
}
