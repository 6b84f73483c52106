import { counter, inc, numberAt, statusMetric } from "@openclaw-bundle/shared";
import { PLUGIN_ID } from "./status.ts";

/**
 * The Agent Registry channel's Prometheus metrics: heartbeats and messages counted where they
 * happen; registrations and Pilot restarts mirrored from `agent-registry.status` at scrape time.
 */

const heartbeats = counter({
  name: "agent_registry_heartbeats_total",
  help: "Heartbeats sent to the Agent Registry, by outcome (ok, failed, not-found)",
  labelNames: ["outcome"] as const,
});
const messages = counter({
  name: "agent_registry_messages_total",
  help: "Agent-to-agent messages, by direction (in, out) and transport (pilot, relay)",
  labelNames: ["direction", "transport"] as const,
});

export const registryMetrics = {
  heartbeat(outcome: string): void {
    inc(heartbeats, { outcome });
  },
  message(direction: "in" | "out", transport: string): void {
    inc(messages, { direction, transport });
  },
};

/** Registers the status-derived metrics (idempotent: register() runs more than once). */
export function registerRegistryMetrics(): void {
  statusMetric("counter", {
    name: "agent_registry_registrations_total",
    help: "Successful registrations (the first, and each one after the registry forgot this agent)",
    extension: PLUGIN_ID,
    samples: (s) => [[{}, numberAt(s, "registration.registrations")]],
  });
  statusMetric("gauge", {
    name: "agent_registry_heartbeat_failures",
    help: "Heartbeats failed in a row right now (reset by a good one)",
    extension: PLUGIN_ID,
    samples: (s) => [[{}, numberAt(s, "registration.consecutiveFailures")]],
  });
  statusMetric("counter", {
    name: "agent_registry_pilot_restarts_total",
    help: "Restarts of the Pilot daemon this gateway supervises",
    extension: PLUGIN_ID,
    samples: (s) => [[{}, numberAt(s, "pilot.restarts")]],
  });
}
