import { errorMessage, type Logger, Periodic } from "@openclaw-bundle/shared";
import { registryMetrics } from "./metrics.ts";
import { isRegistryError, type RegisterBody, type RegistryClient } from "./registry-client.ts";

/**
 * This agent's entry in the registry: registered at start, kept alive by a heartbeat, registered
 * again when the registry has forgotten it (404) or after `maxFailures` heartbeats in a row failed
 * (deregistered first, errors ignored), and deregistered on stop. Every registration sends the
 * whole, current description, so what was added since (a Pilot node id) is never lost.
 */

type HeartbeatOutcome = "ok" | "not-found" | "failed";
type HeartbeatAction = "none" | "retry" | "reregister";

/** What to do after a heartbeat, given how many had failed in a row before it. */
export function heartbeatPolicy(
  failuresBefore: number,
  outcome: HeartbeatOutcome,
  maxFailures: number,
): { failures: number; action: HeartbeatAction } {
  if (outcome === "ok") return { failures: 0, action: "none" };
  // A 404 is the registry saying it lost us: waiting for more failures would only stay invisible.
  if (outcome === "not-found") return { failures: 0, action: "reregister" };
  const failures = failuresBefore + 1;
  return failures >= maxFailures ? { failures: 0, action: "reregister" } : { failures, action: "retry" };
}

interface RegistrationOptions {
  client: RegistryClient;
  /** The body to register with, read at every registration. */
  body: () => RegisterBody;
  intervalMs: number;
  maxFailures: number;
  logger: Logger;
}

type RegistrationState = "idle" | "registering" | "registered" | "failing";

export class Registration {
  state: RegistrationState = "idle";
  agentId: string | undefined;
  lastHeartbeatAt: number | undefined;
  lastRegisteredAt: number | undefined;
  consecutiveFailures = 0;
  registrations = 0;
  lastError: string | undefined;
  readonly #o: RegistrationOptions;
  #timer: Periodic | undefined;

  constructor(o: RegistrationOptions) {
    this.#o = o;
  }

  /** Registers now (in the first tick) and keeps the heartbeat going; never throws. */
  start(): void {
    if (this.#timer) return;
    this.#timer = new Periodic(
      { name: "agent-registry heartbeat", intervalMs: this.#o.intervalMs, immediate: true },
      () => this.#tick(),
    );
    this.#timer.start();
  }

  /** Registers again right away (a changed description, or an operator's refresh). */
  async refresh(): Promise<void> {
    this.agentId = undefined;
    if (this.#timer) await this.#timer.runNow();
    else await this.#register();
  }

  async #tick(): Promise<void> {
    if (!this.agentId) {
      await this.#register();
      return;
    }
    let outcome: HeartbeatOutcome = "ok";
    try {
      await this.#o.client.heartbeat(this.agentId);
      this.lastHeartbeatAt = Date.now();
      this.state = "registered";
      this.lastError = undefined;
    } catch (err) {
      outcome = isRegistryError(err, "NOT_FOUND") ? "not-found" : "failed";
      this.lastError = `heartbeat failed: ${errorMessage(err)}`;
    }
    registryMetrics.heartbeat(outcome);
    const next = heartbeatPolicy(this.consecutiveFailures, outcome, this.#o.maxFailures);
    this.consecutiveFailures = next.failures;
    if (next.action === "retry") {
      this.state = "failing";
      this.#o.logger.warn(`${this.lastError} (${next.failures}/${this.#o.maxFailures})`);
    } else if (next.action === "reregister") {
      this.#o.logger.warn(
        outcome === "not-found"
          ? "the registry no longer knows this agent; registering again"
          : `${this.#o.maxFailures} heartbeats failed in a row; registering again`,
      );
      const stale = this.agentId;
      this.agentId = undefined;
      if (outcome === "failed" && stale) await this.#o.client.deregister(stale).catch(() => {});
      await this.#register();
    }
  }

  async #register(): Promise<void> {
    this.state = this.registrations > 0 || this.lastError ? "failing" : "registering";
    try {
      const rec = await this.#o.client.register(this.#o.body());
      this.agentId = rec.id;
      this.registrations++;
      this.lastRegisteredAt = this.lastHeartbeatAt = Date.now();
      this.consecutiveFailures = 0;
      this.lastError = undefined;
      this.state = "registered";
      this.#o.logger.info(`registered as ${rec.hostname} (id ${rec.id})`);
    } catch (err) {
      this.state = "failing";
      this.lastError = `registration failed: ${errorMessage(err)}`;
      this.#o.logger.warn(`${this.lastError}; trying again in ${Math.round(this.#o.intervalMs / 1000)} s`);
    }
  }

  /** Stops the heartbeat and removes the entry (errors ignored: the registry may be gone). */
  async stop(opts: { deregister?: boolean } = {}): Promise<void> {
    const timer = this.#timer;
    this.#timer = undefined;
    await timer?.stop();
    const id = this.agentId;
    this.agentId = undefined;
    this.state = "idle";
    if (id && opts.deregister !== false) {
      await this.#o.client.deregister(id).then(
        () => this.#o.logger.info("deregistered from the registry"),
        (err) => this.#o.logger.warn(`deregistration failed: ${errorMessage(err)}`),
      );
    }
  }
}
