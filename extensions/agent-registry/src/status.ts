import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import type { AgentRegistryAccount } from "./account.ts";
import { type AgentRegistryConfig, agentRegistryConfig } from "./config-schema.ts";
import { MANIFEST } from "./manifest.ts";
import { RelayTransport } from "./transports.ts";

export const PLUGIN_ID = MANIFEST.id;

export function resolveAgentRegistry(raw: unknown): ResolvedConfig<AgentRegistryConfig> {
  return resolvePluginConfig(agentRegistryConfig, raw, {
    id: PLUGIN_ID,
    disabledReason: (r) =>
      r.registryUrl === undefined ? "no registry configured (set AGENT_REGISTRY_URL)" : undefined,
    missing: (c) => (c.hostname ? [] : ["hostname"]),
  });
}

/**
 * `agent-registry.status`: registration, node id, transport in use, last heartbeat, failures, and
 * the inbox counters — never the registry key.
 */
export function agentRegistryStatus(
  resolved: ResolvedConfig<AgentRegistryConfig>,
  account: AgentRegistryAccount | undefined,
): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  const base = {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    registryUrl: c.registryUrl,
    hostname: c.hostname,
    installationId: c.installationId ?? c.hostname,
    capabilities: c.capabilities,
  };
  if (!account) return { ...base, state: "idle", reason: "the channel account has not started (yet)" };
  const reg = account.registration;
  const d = account.daemon;
  const pilotWanted = d !== undefined;
  const transport = account.transportInUse;
  let state: ExtensionStatus["state"] = "running";
  let reason: string | undefined;
  if (!account.discoverable) {
    state = "idle";
    reason = "not discoverable: not registered in the registry (messages from trusted peers are still read)";
  } else if (reg.state !== "registered") {
    state = "degraded";
    reason = reg.lastError ?? "registering";
  } else if (pilotWanted && !d.ready) {
    state = "degraded";
    reason = `Pilot is not running (${d.lastError ?? d.state}); ${c.transport === "pilot" ? "messages cannot be sent" : "messages use the registry's HTTP relay"}`;
  }
  const relay = account.transports.find((t): t is RelayTransport => t instanceof RelayTransport);
  if (relay?.receiveUnavailable && state === "running") {
    state = "degraded";
    reason = `relay receive is unavailable: ${relay.receiveUnavailable}`;
  }
  return {
    ...base,
    state,
    ...(reason ? { reason } : {}),
    discoverable: account.discoverable,
    registration: {
      state: reg.state,
      agentId: reg.agentId ?? null,
      lastHeartbeatAt: iso(reg.lastHeartbeatAt),
      lastRegisteredAt: iso(reg.lastRegisteredAt),
      registrations: reg.registrations,
      consecutiveFailures: reg.consecutiveFailures,
      lastError: reg.lastError ?? null,
    },
    transport: { configured: c.transport, inUse: transport },
    ...(relay
      ? {
          relay: {
            receive: relay.receiveUnavailable ? "unavailable" : "available",
            receiveUnavailable: relay.receiveUnavailable ?? null,
            trustUnavailable: relay.trustUnavailable ?? null,
          },
        }
      : {}),
    pilot: d
      ? {
          state: d.state,
          nodeId: d.info?.node_id ?? null,
          address: d.info?.address ?? null,
          restarts: d.restarts,
          // The daemon this gateway started (null when it attached to another's).
          pid: d.pid ?? null,
          lastError: d.lastError ?? null,
        }
      : { state: "off" },
    counters: { ...account.counters },
    lastInbound: account.lastInbound ?? null,
    lastError: account.lastError ?? null,
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
