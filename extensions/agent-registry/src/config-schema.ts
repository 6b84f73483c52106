import { defineConfigSchema } from "@openclaw-bundle/shared";
import { z } from "zod";
import { isPilotHostname, PILOT_HOSTNAME, PILOT_HOSTNAME_EXPECTED } from "./pilot/hostname.ts";

const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 60;
const DEFAULT_MAX_HEARTBEAT_FAILURES = 3;
const DEFAULT_POLL_INTERVAL_SECONDS = 15;
const DEFAULT_PILOT_PORT = 4000;
export const MAX_CAPABILITIES = 20;
const DEFAULT_CONTACT_TIMEOUT_SECONDS = 30;

const notPilotHostname = (i: { input: unknown }) =>
  `pilot.hostname ${JSON.stringify(i.input)} is not a Pilot hostname: expected ${PILOT_HOSTNAME_EXPECTED}`;

export const agentRegistryConfig = defineConfigSchema(
  z
    .object({
      /** Agent Registry base URL; the extension stays off without it (AGENT_REGISTRY_URL). */
      registryUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** Sent as X-Registry-Key when the registry requires one. */
      registryApiKey: z.string().min(1).optional(),
      /** Hostname other agents find and address this one by. */
      hostname: z.string().min(1).max(253).optional(),
      /** Stable id of this installation (INSTALLATION_ID; defaults to the hostname). */
      installationId: z.string().min(1).max(256).optional(),
      displayName: z.string().max(200).optional(),
      description: z.string().max(2000).optional(),
      /** What this agent offers, searchable by others. */
      capabilities: z.array(z.string().min(1).max(64)).max(MAX_CAPABILITIES).default([]),
      /** Register in the registry; when false the channel idles (no registration). */
      discoverable: z.boolean().default(true),
      heartbeatIntervalSeconds: z.number().int().min(5).max(3600).default(DEFAULT_HEARTBEAT_INTERVAL_SECONDS),
      /** Consecutive heartbeat failures before deregistering and registering again. */
      maxHeartbeatFailures: z.number().int().min(1).max(100).default(DEFAULT_MAX_HEARTBEAT_FAILURES),
      /** How often the inbox (Pilot or HTTP relay) and pending handshakes are polled. */
      pollIntervalSeconds: z.number().int().min(1).max(3600).default(DEFAULT_POLL_INTERVAL_SECONDS),
      /** Message transport: Pilot P2P when available (auto), or always the registry's HTTP relay. */
      transport: z.enum(["auto", "pilot", "relay"]).default("auto"),
      /**
       * Trust handshakes from agents registered in this registry are approved at once
       * (`registered`), or left to the agent and its operator (`none`).
       */
      autoApprove: z.enum(["registered", "none"]).default("registered"),
      /** How long `contact` waits for a new peer to approve the handshake, and for its answer. */
      contactTimeoutSeconds: z.number().int().min(1).max(600).default(DEFAULT_CONTACT_TIMEOUT_SECONDS),
      pilot: z
        .object({
          /** UDP port the daemon listens on (PILOT_PORT; match the container's published port). */
          port: z.number().int().min(1).max(65535).default(DEFAULT_PILOT_PORT),
          /** Fixed public IP for the daemon's endpoint (PILOT_PUBLIC_IP); STUN when absent. */
          publicIp: z.string().min(1).optional(),
          /** Rendezvous `host:port` (PILOT_REGISTRY). */
          registry: z.string().min(1).optional(),
          /** Beacon `host:port`; defaults to the registry host with port + 1. */
          beacon: z.string().min(1).optional(),
          /** Folder holding pilot-daemon and pilotctl (outside the ~/.pilot volume). */
          binDir: z.string().min(1).optional(),
          /** Daemon IPC socket. */
          socketPath: z.string().min(1).default("/tmp/pilot.sock"),
          /**
           * The daemon's `-hostname`; derived from `hostname` when absent (lowercased, other
           * characters as "-", cut to 63), since the real daemon drops a name it does not take.
           */
          hostname: z
            .string()
            .regex(PILOT_HOSTNAME, { error: notPilotHostname })
            .refine(isPilotHostname, { error: notPilotHostname })
            .optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
);

export type AgentRegistryConfig = z.infer<typeof agentRegistryConfig.schema>;
