import { type ExtensionStatus, type ResolvedConfig, resolvePluginConfig } from "@openclaw-bundle/shared";
import { type AuthManagerConfig, authManagerConfig } from "./config-schema.ts";
import type { LeaseSnapshot } from "./lease-service.ts";

import { MANIFEST } from "./manifest.ts";

export const PLUGIN_ID = MANIFEST.id;

/** True for hosts where plain http is acceptable (the broker contract demands https elsewhere). */
export function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname;
  // The URL parser writes IPv4 in dotted-decimal form; a DNS name such as 127.example.com is remote.
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

const BOOL_ENV: Record<string, string> = {
  autoRenew: "AUTH_MANAGER_AUTO_RENEW",
  autoRotate: "AUTH_MANAGER_AUTO_ROTATE",
  releaseLeaseOnShutdown: "AUTH_MANAGER_RELEASE_LEASE_ON_SHUTDOWN",
};

function parseEnvBool(name: string, value: string): boolean | string {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  // Left as a string so validation reports it against the key, naming the variable.
  return `${name}=${value} (expected true or false)`;
}

/**
 * The seed plugin reads AUTH_MANAGER_* from the environment when its config omits a key; we keep
 * that, with plugin config winning. The token stays an env reference either way.
 */
export function withEnvFallbacks(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const out: Record<string, unknown> = typeof raw === "object" && raw !== null ? { ...(raw as object) } : {};
  const set = (key: string, value: unknown) => {
    if (out[key] === undefined && value !== undefined && value !== "") out[key] = value;
  };
  set("baseUrl", env.AUTH_MANAGER_BASE_URL);
  set("internalApiToken", env.AUTH_MANAGER_INTERNAL_API_TOKEN);
  set("machineId", env.AUTH_MANAGER_MACHINE_ID);
  set("agentId", env.AUTH_MANAGER_AGENT_ID);
  set("rotationPolicy", env.AUTH_MANAGER_ROTATION_POLICY);
  const interval = env.AUTH_MANAGER_TELEMETRY_INTERVAL_MS;
  if (interval !== undefined && interval !== "")
    set("telemetryIntervalMs", Number.isFinite(Number(interval)) ? Number(interval) : interval);
  for (const [key, name] of Object.entries(BOOL_ENV)) {
    const v = env[name];
    if (v !== undefined && v !== "") set(key, parseEnvBool(name, v));
  }
  return out;
}

export function resolveAuthManager(
  raw: unknown,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig<AuthManagerConfig> {
  return resolvePluginConfig(authManagerConfig, withEnvFallbacks(raw, env), {
    id: PLUGIN_ID,
    disabledReason: (r) =>
      r.baseUrl === undefined ? "no Auth Manager configured (set AUTH_MANAGER_BASE_URL)" : undefined,
    missing: (c) => {
      const out: string[] = [];
      if (!c.internalApiToken) out.push("internalApiToken (AUTH_MANAGER_INTERNAL_API_TOKEN)");
      if (c.baseUrl?.startsWith("http:") && !isLocalHost(c.baseUrl) && !c.allowHttp)
        out.push(
          "an https baseUrl (http only on localhost, or with allowHttp / AUTH_MANAGER_ALLOW_HTTP=true)",
        );
      return out;
    },
  });
}

/** `auth-manager-lease-telemetry.status`: the lease as the service sees it; ids and counts, never tokens. */
export function authManagerStatus(
  resolved: ResolvedConfig<AuthManagerConfig>,
  live: LeaseSnapshot | undefined,
): ExtensionStatus {
  if (!resolved.ok) return resolved.status;
  const c = resolved.config;
  if (!live) {
    return {
      id: PLUGIN_ID,
      enabled: true,
      configured: true,
      state: "idle",
      reason: "configured; the lease service has not started yet",
      baseUrl: c.baseUrl,
    };
  }
  const state =
    live.state === "running"
      ? "running"
      : live.state === "starting"
        ? "idle"
        : live.state === "stopped"
          ? "idle"
          : "degraded";
  return {
    id: PLUGIN_ID,
    enabled: true,
    configured: true,
    ...live,
    state,
    serviceState: live.state,
    baseUrl: c.baseUrl,
  };
}
