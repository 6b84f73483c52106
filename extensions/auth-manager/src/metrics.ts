import { counter, inc } from "@openclaw-bundle/shared";

/**
 * The lease's Prometheus metrics (its state is the shared `openclaw_bundle_extension_state`).
 * lease-service.ts calls these one line per event.
 */

const events = counter({
  name: "auth_manager_lease_events_total",
  help: "Lease operations that succeeded: renew, reacquire (a new lease after the old one was refused or unusable), rotate",
  labelNames: ["event"] as const,
});
const flushes = counter({
  name: "auth_manager_telemetry_flushes_total",
  help: "Usage telemetry sends to the broker, by outcome (ok, failed)",
  labelNames: ["outcome"] as const,
});
const tokens = counter({
  name: "auth_manager_tokens_reported_total",
  help: "Model tokens reported to the broker in telemetry, by direction (in = prompt, out = completion)",
  labelNames: ["direction"] as const,
});

export const leaseMetrics = {
  event(event: "renew" | "reacquire" | "rotate"): void {
    inc(events, { event });
  },
  flushed(tokensIn: number, tokensOut: number): void {
    inc(flushes, { outcome: "ok" });
    inc(tokens, { direction: "in" }, Math.max(0, tokensIn));
    inc(tokens, { direction: "out" }, Math.max(0, tokensOut));
  },
  flushFailed(): void {
    inc(flushes, { outcome: "failed" });
  },
};
