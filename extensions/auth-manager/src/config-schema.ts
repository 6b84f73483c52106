import { defineConfigSchema } from "@openclaw-bundle/shared";
import { z } from "zod";

const DEFAULT_AGENT_ID = "main";
const DEFAULT_TELEMETRY_INTERVAL_MS = 60_000;
const DEFAULT_TELEMETRY_FLUSH_EVERY = 10;
const DEFAULT_CHECK_INTERVAL_MS = 60_000;
/**
 * The Auth Manager reclaims a lease it has not seen for 180 s (`lease_reclaim_after_seconds`), and
 * the check is how it sees this gateway: at most 60 s leaves three chances inside that window.
 */
export const MAX_CHECK_INTERVAL_MS = 60_000;
export const ROTATION_POLICIES = ["replacement_required_only", "recommended_or_required"] as const;

export const authManagerConfig = defineConfigSchema(
  z
    .object({
      /** Auth Manager base URL; the extension stays off without it (AUTH_MANAGER_BASE_URL). https except on localhost. */
      baseUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** Bearer token for the broker (AUTH_MANAGER_INTERNAL_API_TOKEN); use a ${VAR} reference. */
      internalApiToken: z.string().min(1).optional(),
      /** Machine identity sent to the broker (AUTH_MANAGER_MACHINE_ID; defaults to the hostname). */
      machineId: z.string().min(1).max(256).optional(),
      /** Agent identity; `main` is sent as `openclaw:main` (AUTH_MANAGER_AGENT_ID). */
      agentId: z.string().min(1).max(256).default(DEFAULT_AGENT_ID),
      /** Lease to reuse instead of the one persisted in the state dir. */
      leaseId: z.string().min(1).max(256).optional(),
      requestedTtlSeconds: z
        .number()
        .int()
        .min(60)
        .max(30 * 86_400)
        .optional(),
      /** Renew the lease before it expires (AUTH_MANAGER_AUTO_RENEW). */
      autoRenew: z.boolean().default(true),
      /** Rotate away from a usable credential when the broker recommends it (AUTH_MANAGER_AUTO_ROTATE). */
      autoRotate: z.boolean().default(false),
      /** Release the lease when the gateway stops (AUTH_MANAGER_RELEASE_LEASE_ON_SHUTDOWN). */
      releaseLeaseOnShutdown: z.boolean().default(false),
      /** When to rotate (AUTH_MANAGER_ROTATION_POLICY). */
      rotationPolicy: z.enum(ROTATION_POLICIES).default("replacement_required_only"),
      /** How often the lease is checked; each check keeps it alive at the broker (at most 60 s). */
      checkIntervalMs: z
        .number()
        .int()
        .min(1000)
        .max(MAX_CHECK_INTERVAL_MS, {
          message: `must be at most ${MAX_CHECK_INTERVAL_MS} ms: the Auth Manager reclaims a lease it has not seen for 180 s, and each check is what it sees`,
        })
        .default(DEFAULT_CHECK_INTERVAL_MS),
      /** Telemetry flush interval (AUTH_MANAGER_TELEMETRY_INTERVAL_MS). */
      telemetryIntervalMs: z.number().int().min(1000).max(3_600_000).default(DEFAULT_TELEMETRY_INTERVAL_MS),
      /** Flush after this many observed requests. */
      telemetryFlushEveryRequests: z.number().int().min(1).max(10_000).default(DEFAULT_TELEMETRY_FLUSH_EVERY),
      /** Allow a plain-http baseUrl off localhost, for a broker on a private network (AUTH_MANAGER_ALLOW_HTTP). */
      allowHttp: z.boolean().default(false),
      /** Where Codex reads its auth (defaults to ~/.codex/auth.json). */
      codexAuthPath: z.string().min(1).optional(),
    })
    .strict(),
);

export type AuthManagerConfig = z.infer<typeof authManagerConfig.schema>;
