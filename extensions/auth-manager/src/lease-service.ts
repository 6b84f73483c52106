import os from "node:os";
import {
  Backoff,
  errorMessage,
  isBundleError,
  type Logger,
  Periodic,
  registerSecret,
  singleFlight,
} from "@openclaw-bundle/shared";
import {
  AUTH_PROFILE_ID,
  defaultCodexAuthPath,
  type ProfileWriter,
  toProfileCredential,
  writeCodexAuth,
} from "./auth-files.ts";
import {
  authUpdatedAt,
  BrokerClient,
  type Identity,
  isDenied,
  isNotFound,
  type LeaseView,
  refusalReason,
} from "./broker-client.ts";
import type { AuthManagerConfig } from "./config-schema.ts";
import {
  checkOwner,
  FOREIGN_LEASE_CODE,
  FOREIGN_LEASE_RETRY_MS,
  isForeignLease,
  leaseIsGone,
  ROTATE_RETRY_INITIAL_MS,
  ROTATE_RETRY_MAX_MS,
  ROTATION_REFUSED_CODE,
  rotationRefusedReason,
} from "./lease-problems.ts";
import { LeaseStore } from "./lease-store.ts";
import { leaseMetrics } from "./metrics.ts";
import { decide, renewMarginMs } from "./policy.ts";
import { normalizeUsage, UsageAccumulator } from "./usage.ts";

/** Retry of a denied or failed acquire: fast at first, so a freshly seeded credential is picked up. */
const ACQUIRE_RETRY_INITIAL_MS = 1_000;
const STOP_FLUSH_TIMEOUT_MS = 5_000;

export interface LeaseSnapshot {
  state: "starting" | "running" | "waiting" | "blocked" | "degraded" | "stopped";
  reason?: string;
  /** Stable code (LEASE_ERR_*) of the problem `reason` describes, while it lasts. */
  problem?: string;
  machineId: string;
  agentId: string;
  leaseId?: string;
  leaseState?: string;
  expiresAt?: string;
  credentialState?: string;
  authFile: string;
  authFileWrittenAt?: string;
  authProfile?: string;
  pending: { requests: number; tokensIn: number; tokensOut: number };
  lastCheckAt?: string;
  lastFlushAt?: string;
  flushes: number;
  lastError?: string;
}

interface LeaseServiceOptions {
  config: AuthManagerConfig & { baseUrl: string; internalApiToken: string };
  stateDir: string;
  logger: Logger;
  writeProfile?: ProfileWriter;
  hostname?: string;
}

/** `main` is the gateway's default agent; the broker knows it as `openclaw:main`. */
function brokerAgentId(agentId: string): string {
  return agentId.includes(":") ? agentId : `openclaw:${agentId}`;
}

/**
 * One sticky Codex credential lease per gateway: acquired (or reused) at start, kept alive,
 * replaced only when unusable, its auth written where Codex and OpenClaw read it, and its usage
 * reported back. Every broker call is serialised, so a check never races a rotation.
 */
export class LeaseService {
  readonly #cfg: LeaseServiceOptions["config"];
  readonly #log: Logger;
  readonly #client: BrokerClient;
  readonly #store: LeaseStore;
  readonly #writeProfile: ProfileWriter | undefined;
  readonly #who: Identity;
  readonly #usage = new UsageAccumulator();
  readonly #retry: Backoff;
  readonly #check: Periodic;
  readonly #telemetry: Periodic;
  readonly #unregisterSecret: () => void;
  readonly #rotateRetry = new Backoff({ initialMs: ROTATE_RETRY_INITIAL_MS, maxMs: ROTATE_RETRY_MAX_MS });
  #lease: LeaseView | undefined;
  #authAt: string | undefined;
  /** The lease whose auth is on disk: a lease is materialized once, then only when its auth changes. */
  #materializedLeaseId: string | undefined;
  /** No acquire before this time (ms): set while waiting out a foreign lease. */
  #acquireAfter = 0;
  /** No rotate before this time (ms): set after the broker refused one. */
  #rotateAfter = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #stopped = false;
  readonly snapshot: LeaseSnapshot;
  readonly flush = singleFlight(() => this.#flush());

  constructor(opts: LeaseServiceOptions) {
    this.#cfg = opts.config;
    this.#log = opts.logger;
    this.#client = new BrokerClient({ baseUrl: opts.config.baseUrl, token: opts.config.internalApiToken });
    this.#unregisterSecret = registerSecret(opts.config.internalApiToken);
    // Retries never wait longer than a check interval (nor 30 s): a seeded credential is picked up soon.
    const maxRetryMs = Math.max(ACQUIRE_RETRY_INITIAL_MS, Math.min(30_000, opts.config.checkIntervalMs));
    this.#retry = new Backoff({ initialMs: ACQUIRE_RETRY_INITIAL_MS, maxMs: maxRetryMs });
    this.#store = new LeaseStore(opts.stateDir);
    this.#writeProfile = opts.writeProfile;
    this.#who = {
      machineId: opts.config.machineId ?? opts.hostname ?? os.hostname(),
      agentId: brokerAgentId(opts.config.agentId),
    };
    this.snapshot = {
      state: "starting",
      machineId: this.#who.machineId,
      agentId: this.#who.agentId,
      authFile: opts.config.codexAuthPath ?? defaultCodexAuthPath(),
      pending: { requests: 0, tokensIn: 0, tokensOut: 0 },
      flushes: 0,
    };
    const onError = (err: unknown) => this.#fail(err);
    this.#check = new Periodic(
      { name: "lease-check", intervalMs: opts.config.checkIntervalMs, onError },
      () => this.#serial(() => this.#checkLease()),
    );
    this.#telemetry = new Periodic(
      { name: "lease-telemetry", intervalMs: opts.config.telemetryIntervalMs, onError },
      () => this.flush(),
    );
  }

  /** Starts without waiting for the broker: a slow or absent broker never holds up the gateway. */
  start(): void {
    this.#stopped = false;
    this.#check.start();
    this.#telemetry.start();
    void this.#serial(() => this.#ensureLease(true)).catch((err) => this.#fail(err));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await Promise.all([this.#check.stop(), this.#telemetry.stop()]);
    await withTimeout(this.flush(), STOP_FLUSH_TIMEOUT_MS).catch((err) => this.#fail(err));
    const lease = this.#lease;
    if (this.#cfg.releaseLeaseOnShutdown && lease) {
      await withTimeout(this.#client.release(lease.id, this.#who), STOP_FLUSH_TIMEOUT_MS)
        .then(() => this.#log.info("lease released on shutdown", { leaseId: lease.id }))
        .catch((err) => this.#fail(err));
    }
    this.snapshot.state = "stopped";
    this.#unregisterSecret();
  }

  /** Usage from one model call (the host's `llm_output`); nothing is counted when usage is absent. */
  recordUsage(raw: unknown): void {
    const u = normalizeUsage(raw);
    if (!u || this.#stopped) return;
    const n = this.#usage.add(u);
    this.#syncPending();
    if (n >= this.#cfg.telemetryFlushEveryRequests) void this.flush().catch((err) => this.#fail(err));
  }

  /** Runs a lease check now (used by tests and the status method's `refresh`). */
  checkNow(): Promise<void> {
    return this.#serial(() => this.#checkLease());
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #ensureLease(atStart: boolean): Promise<void> {
    if (this.#lease || this.#stopped) return;
    if (!atStart && Date.now() < this.#acquireAfter) return;
    if (atStart) {
      const persisted = await this.#store.load();
      const candidate =
        this.#cfg.leaseId ??
        (persisted && persisted.machineId === this.#who.machineId && persisted.agentId === this.#who.agentId
          ? persisted.leaseId
          : undefined);
      if (candidate) {
        const view = await this.#client
          .get(candidate)
          .catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
        // The auth written before the restart is on disk: the decision compares against it.
        this.#authAt = persisted?.leaseId === candidate ? persisted.authUpdatedAt : undefined;
        const action = decide(this.#policyInput(view));
        // A lease the broker wants replaced is still ours and still works until it is: adopt it and rotate.
        if (view && action.kind !== "reacquire") {
          if (this.#authAt) this.#materializedLeaseId = candidate;
          this.#log.info("reusing persisted lease", { leaseId: candidate });
          try {
            await this.#adopt(view, action.kind === "rematerialize" || !this.#authAt);
          } catch (err) {
            if (!isForeignLease(err)) throw err;
            return this.#blockForeign(err);
          }
          if (action.kind === "renew") await this.#renew();
          if (action.kind === "rotate") await this.#rotate(view, action.reason, action.why);
          return;
        }
        this.#log.info("persisted lease is not usable; acquiring a new one", {
          leaseId: candidate,
          why: view ? action.kind : "404",
        });
      }
    }
    await this.#acquire();
  }

  async #acquire(): Promise<void> {
    try {
      const ttl = this.#cfg.requestedTtlSeconds;
      const answer = await this.#client.acquire(this.#who, ttl);
      checkOwner(answer.lease, this.#who, FOREIGN_LEASE_RETRY_MS);
      this.#log.info("lease acquired", { leaseId: answer.lease.id, reason: answer.reason ?? undefined });
      // The broker hands back the lease this machine already holds: its auth is on disk already.
      await this.#adopt(answer.lease, answer.lease.id !== this.#materializedLeaseId || !this.#authAt);
      // Only now: a lease whose auth cannot be written locally must keep backing off, or a broken
      // ~/.codex asks the broker once a second forever (seen on a read-only root).
      this.#retry.reset();
    } catch (err) {
      this.#lease = undefined;
      if (isForeignLease(err)) return this.#blockForeign(err);
      const delay = this.#retry.next();
      this.snapshot.state = isDenied(err) ? "waiting" : "degraded";
      this.snapshot.reason = isDenied(err)
        ? `no eligible credential at the broker (409 no_eligible_credentials_available); retrying in ${Math.round(delay / 1000)} s`
        : `could not acquire a lease: ${errorMessage(err)}; retrying in ${Math.round(delay / 1000)} s`;
      this.snapshot.problem = isBundleError(err) ? err.code : undefined;
      this.snapshot.lastError = errorMessage(err);
      this.#log.warn(this.snapshot.reason);
      this.#retryIn(delay);
    }
  }

  /** Another agent's lease came back: say so and wait, without touching it (every call would 409). */
  #blockForeign(err: unknown): void {
    this.#lease = undefined;
    this.snapshot.state = "blocked";
    this.snapshot.problem = FOREIGN_LEASE_CODE;
    this.snapshot.reason = errorMessage(err);
    this.snapshot.lastError = errorMessage(err);
    this.#log.error(this.snapshot.reason);
    this.#acquireAfter = Date.now() + FOREIGN_LEASE_RETRY_MS;
    this.#retryIn(FOREIGN_LEASE_RETRY_MS);
  }

  #retryIn(delay: number): void {
    clearTimeout(this.#retryTimer);
    if (this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#acquireAfter = 0;
      void this.#serial(() => this.#ensureLease(false)).catch((e) => this.#fail(e));
    }, delay);
    this.#retryTimer.unref();
  }

  async #adopt(view: LeaseView, materialize: boolean): Promise<void> {
    checkOwner(view, this.#who, FOREIGN_LEASE_RETRY_MS);
    const previous = this.#lease?.id;
    if (previous !== view.id) {
      // Counters belong to one lease: report what the old lease used before switching, if it still listens.
      if (previous && !this.#usage.isEmpty) await this.#flush().catch(() => undefined);
      const dropped = this.#usage.switchLease(view.id);
      if (dropped)
        this.#log.warn("usage of the previous lease could not be reported", {
          leaseId: dropped.leaseId,
          requests: dropped.requests,
        });
    }
    this.#lease = view;
    if (materialize) await this.#materialize();
    await this.#store.save({
      leaseId: view.id,
      machineId: this.#who.machineId,
      agentId: this.#who.agentId,
      authUpdatedAt: this.#authAt,
    });
    this.#syncLease(view);
    this.#running();
    this.#syncPending();
  }

  #running(): void {
    this.snapshot.state = "running";
    this.snapshot.reason = undefined;
    this.snapshot.problem = undefined;
    this.#acquireAfter = 0;
  }

  async #materialize(): Promise<void> {
    const lease = this.#lease;
    if (!lease) return;
    const m = await this.#client.materialize(lease.id, this.#who);
    for (const s of [
      m.authJson.tokens.access_token,
      m.authJson.tokens.refresh_token,
      m.authJson.tokens.id_token,
    ])
      registerSecret(s ?? undefined);
    await writeCodexAuth(this.snapshot.authFile, m.authJson);
    this.snapshot.authFileWrittenAt = new Date().toISOString();
    if (this.#writeProfile) {
      const fallback = m.lease.expires_at ? Date.parse(m.lease.expires_at) : Date.now() + 3_600_000;
      const ok = await this.#writeProfile(AUTH_PROFILE_ID, toProfileCredential(m.authJson, fallback)).catch(
        (err) => {
          this.#log.warn("could not store the leased credential as an auth profile", {
            error: errorMessage(err),
          });
          return false;
        },
      );
      this.snapshot.authProfile = ok ? AUTH_PROFILE_ID : undefined;
    }
    // The real broker puts the timestamp in lease.metadata; without it every check would rewrite
    // the file (and undo tokens Codex refreshed meanwhile), so fall back to what GET last said.
    this.#authAt = authUpdatedAt(m.lease) ?? authUpdatedAt(lease);
    this.#materializedLeaseId = lease.id;
    this.#lease = { ...lease, ...m.lease, id: lease.id };
    this.#log.info("leased auth written", { leaseId: lease.id, file: this.snapshot.authFile });
  }

  async #renew(): Promise<void> {
    const lease = this.#lease;
    if (!lease) return;
    try {
      const a = await this.#client.renew(lease.id, this.#who);
      this.#lease = a.lease;
      this.#syncLease(a.lease);
      leaseMetrics.event("renew");
      this.#log.debug("lease renewed", { leaseId: lease.id, expiresAt: a.lease.expires_at });
    } catch (err) {
      if (!isDenied(err) && !isNotFound(err)) throw err;
      this.#log.warn("renewal refused; acquiring a new lease", {
        leaseId: lease.id,
        error: errorMessage(err),
      });
      this.#lease = undefined;
      await this.#acquire();
      leaseMetrics.event("reacquire");
    }
  }

  async #checkLease(): Promise<void> {
    if (this.#stopped) return;
    this.snapshot.lastCheckAt = new Date().toISOString();
    const lease = this.#lease;
    if (!lease) return this.#ensureLease(false);
    const view = await this.#client
      .get(lease.id)
      .catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)));
    const action = decide(this.#policyInput(view));
    if (view) {
      this.#lease = view;
      this.#syncLease(view);
    }
    switch (action.kind) {
      case "keep":
        break;
      case "renew":
        await this.#renew();
        break;
      case "rematerialize":
        this.#log.info(`rewriting leased auth: ${action.why}`, { leaseId: lease.id });
        await this.#materialize();
        await this.#store.save({
          leaseId: lease.id,
          machineId: this.#who.machineId,
          agentId: this.#who.agentId,
          authUpdatedAt: this.#authAt,
        });
        break;
      case "rotate":
        await this.#rotate(lease, action.reason, action.why);
        break;
      case "reacquire":
        this.#log.warn(`lease unusable (${action.why}); acquiring a new one`, { leaseId: lease.id });
        this.#lease = undefined;
        await this.#acquire();
        leaseMetrics.event("reacquire");
        break;
    }
    if (action.kind !== "rotate" && this.snapshot.problem === ROTATION_REFUSED_CODE) {
      this.#rotateRetry.reset();
      this.#rotateAfter = 0;
      if (this.#lease) this.#running();
    }
    if (this.#lease && !this.snapshot.problem) this.snapshot.lastError = undefined;
  }

  async #rotate(lease: LeaseView, reason: string, why: string): Promise<void> {
    // Refused a moment ago: the lease stays as it is, its auth stays on disk, nothing is re-sent.
    if (Date.now() < this.#rotateAfter) return;
    this.#log.info(`rotating lease: ${why}`, { leaseId: lease.id, reason });
    let rotated: LeaseView;
    try {
      rotated = (await this.#client.rotate(lease.id, this.#who, reason)).lease;
    } catch (err) {
      const refusal = refusalReason(err);
      const status = isBundleError(err) ? err.details?.status : undefined;
      if (isDenied(err) && leaseIsGone(refusal)) {
        this.#lease = undefined;
        return this.#acquire();
      }
      // 409 (no replacement, rotation disabled) or 400 (a reason the broker does not take).
      if (!isDenied(err) && !(typeof status === "number" && status >= 400 && status < 500)) throw err;
      const delay = this.#rotateRetry.next();
      this.#rotateAfter = Date.now() + delay;
      this.snapshot.state = "degraded";
      this.snapshot.problem = ROTATION_REFUSED_CODE;
      this.snapshot.reason = rotationRefusedReason(lease.id, why, refusal ?? errorMessage(err), delay);
      this.snapshot.lastError = errorMessage(err);
      this.#log.warn(this.snapshot.reason, { leaseId: lease.id });
      return;
    }
    this.#rotateRetry.reset();
    this.#rotateAfter = 0;
    leaseMetrics.event("rotate");
    // Outside the try: a failure to write the new lease's auth is not a refused rotation.
    await this.#adopt(rotated, true);
  }

  async #flush(): Promise<void> {
    const lease = this.#lease;
    if (!lease || this.#usage.isEmpty) return;
    const snap = this.#usage.snapshot();
    if (snap.leaseId !== lease.id) return;
    const now = new Date().toISOString();
    await this.#client
      .telemetry(lease.id, this.#who, {
        captured_at: now,
        requests_count: snap.requests,
        tokens_in: snap.tokensIn,
        tokens_out: snap.tokensOut,
        status: "ok",
        last_success_at: now,
      })
      .catch((err: unknown) => {
        leaseMetrics.flushFailed();
        throw err;
      });
    leaseMetrics.flushed(snap.tokensIn, snap.tokensOut);
    this.#usage.commit(snap);
    this.snapshot.lastFlushAt = now;
    this.snapshot.flushes++;
    this.#syncPending();
  }

  #policyInput(view: LeaseView | undefined) {
    const ttlMs = (this.#cfg.requestedTtlSeconds ?? 3600) * 1000;
    return {
      lease: view,
      now: Date.now(),
      autoRenew: this.#cfg.autoRenew,
      autoRotate: this.#cfg.autoRotate,
      rotationPolicy: this.#cfg.rotationPolicy,
      renewMarginMs: renewMarginMs(ttlMs, this.#cfg.checkIntervalMs),
      materializedAuthAt: this.#authAt,
    };
  }

  #syncLease(v: LeaseView): void {
    this.snapshot.leaseId = v.id;
    this.snapshot.leaseState = v.state;
    this.snapshot.expiresAt = v.expires_at ?? undefined;
    this.snapshot.credentialState = v.credential_state ?? undefined;
  }

  #syncPending(): void {
    const p = this.#usage.pending;
    this.snapshot.pending = { requests: p.requests, tokensIn: p.tokensIn, tokensOut: p.tokensOut };
  }

  #fail(err: unknown): void {
    this.snapshot.lastError = errorMessage(err);
    this.#log.warn("lease service error", { error: errorMessage(err) });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    t.unref();
    p.then(resolve, reject).finally(() => clearTimeout(t));
  });
}
