import { counter, inc, numberAt, statusMetric } from "@openclaw-bundle/shared";
import { PLUGIN_ID } from "./status.ts";

/**
 * AgenTrux's Prometheus metrics. Most mirror the counters and states `agentrux-openclaw-plugin.status`
 * already reports, read at scrape time; answers are counted where they are published.
 */

const answers = counter({
  name: "agentrux_answers_total",
  help: "Results published to the result topic, by status (completed, failed)",
  labelNames: ["status"] as const,
});

export function countAnswer(status: "completed" | "failed"): void {
  inc(answers, { status });
}

const ACTIVATION_STATES = [
  "activated",
  "credentials-present",
  "no-bootstrap",
  "claimed-elsewhere",
  "quarantined",
  "failed",
  "retry-later",
  "inflight-present",
];

/** Registers the status-derived metrics (idempotent: register() runs more than once). */
export function registerAgentruxMetrics(): void {
  const events = [
    ["pulled", "counters.received"],
    ["dispatched", "counters.dispatched"],
    ["dispatch_failed", "counters.failed"],
    ["deduplicated", "counters.deduplicated"],
    // The live service said the read cursor had aged out of retention; reading restarted at the oldest kept.
    ["cursor_expired", "counters.cursorExpired"],
  ] as const;
  statusMetric("counter", {
    name: "agentrux_events_total",
    help: "Command-topic events since start: pulled, dispatched (answered), dispatch_failed, deduplicated (dedup hits, skipped), cursor_expired (live: the cursor aged out, read again from the oldest kept)",
    labelNames: ["outcome"] as const,
    extension: PLUGIN_ID,
    samples: (s) => events.map(([outcome, path]) => [{ outcome }, numberAt(s, path)]),
  });
  statusMetric("gauge", {
    name: "agentrux_sse_connected",
    help: "1 while the SSE hint stream is open, 0 otherwise (requests still arrive by polling)",
    extension: PLUGIN_ID,
    samples: (s) => [[{}, s.sse === "open" ? 1 : 0]],
  });
  statusMetric("gauge", {
    name: "agentrux_dispatch_in_flight",
    help: "Commands being handled right now",
    extension: PLUGIN_ID,
    samples: (s) => [[{}, numberAt(s, "active")]],
  });
  statusMetric("gauge", {
    name: "agentrux_activation_state",
    help: "1 for the outcome of the last activation attempt, 0 for the others",
    labelNames: ["state"] as const,
    extension: PLUGIN_ID,
    samples: (s) =>
      s.activation === undefined
        ? []
        : ACTIVATION_STATES.map((state) => [{ state }, s.activation === state ? 1 : 0]),
  });
}
