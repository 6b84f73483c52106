import { healthPath } from "./bundle.ts";
import type { ConfigSchemaDefinition } from "./config.ts";
import { isBundleError } from "./errors.ts";
import { trackExtensionState } from "./metrics.ts";

/**
 * Where an extension stands, as its `<id>.status` gateway method reports it:
 * - `disabled`: the enabling setting is absent (e.g. no CLAWMATRIX_SECRET) — normal, not an error;
 * - `invalid`: the config does not validate; `problems` names each bad key;
 * - `unconfigured`: enabled, but a required key is missing; `problems` says which;
 * - `idle` / `running` / `degraded` / `error`: reported by the running extension.
 */
export type ExtensionState =
  | "disabled"
  | "invalid"
  | "unconfigured"
  | "idle"
  | "running"
  | "degraded"
  | "error";

export interface ExtensionStatus {
  id: string;
  enabled: boolean;
  configured: boolean;
  state: ExtensionState;
  /** One sentence a user can act on, when the state is anything but running. */
  reason?: string;
  problems?: string[];
  [detail: string]: unknown;
}

export type ResolvedConfig<T> =
  | { ok: true; enabled: true; config: T }
  | { ok: false; status: ExtensionStatus };

interface ResolveOptions<T> {
  id: string;
  /** Returns why the extension is disabled (the enabling key absent), or undefined when enabled. */
  disabledReason: (raw: Record<string, unknown>) => string | undefined;
  /** Keys required once enabled that the JSON Schema cannot demand (it must accept an empty config). */
  missing?: (config: T) => string[];
}

function asRecord(raw: unknown): Record<string, unknown> {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw)
    ? (raw as Record<string, unknown>)
    : {};
}

/**
 * Validates an extension's plugin config at the edge. The gateway has already checked it against
 * the manifest's JSON Schema; this parse also applies defaults and catches what env fallbacks
 * added. It never throws: a bad config becomes a status the user can read, not a crashed gateway.
 */
export function resolvePluginConfig<T>(
  def: ConfigSchemaDefinition<T>,
  rawInput: unknown,
  opts: ResolveOptions<T>,
): ResolvedConfig<T> {
  const raw = asRecord(rawInput);
  const disabled = opts.disabledReason(raw);
  if (disabled) {
    return {
      ok: false,
      status: { id: opts.id, enabled: false, configured: false, state: "disabled", reason: disabled },
    };
  }
  let config: T;
  try {
    config = def.parse(raw, opts.id);
  } catch (err) {
    const problems =
      isBundleError(err) && Array.isArray(err.details?.problems)
        ? (err.details.problems as string[])
        : [err instanceof Error ? err.message : String(err)];
    return {
      ok: false,
      status: {
        id: opts.id,
        enabled: true,
        configured: false,
        state: "invalid",
        reason: `${opts.id} config is invalid: ${problems.join("; ")}`,
        problems,
      },
    };
  }
  const missing = opts.missing?.(config) ?? [];
  if (missing.length > 0) {
    return {
      ok: false,
      status: {
        id: opts.id,
        enabled: true,
        configured: false,
        state: "unconfigured",
        reason: `${opts.id} is enabled but missing ${missing.join(", ")}`,
        problems: missing.map((k) => `${k}: required`),
      },
    };
  }
  return { ok: true, enabled: true, config };
}

/** Minimal view of the host API this kit needs, so it is testable without a gateway. */
interface StatusMethodHost {
  registerGatewayMethod(
    name: string,
    handler: (opts: {
      respond: (
        ok: boolean,
        payload?: unknown,
        error?: { code: string; message: string; details?: unknown },
      ) => void;
    }) => void | Promise<void>,
  ): void;
}

/** States a container healthcheck treats as unhealthy; `degraded` (a peer down) is not. */
const UNHEALTHY_STATES: readonly string[] = ["error", "invalid", "unconfigured"];

interface HealthRouteHost {
  registerHttpRoute?(params: {
    path: string;
    auth: "plugin";
    handler: (
      req: unknown,
      res: { statusCode: number; setHeader(k: string, v: string): void; end(body: string): void },
    ) => boolean | undefined;
  }): void;
}

/**
 * Registers `<id>.status`, answering whatever `read()` reports at call time, and the unauthenticated
 * health probe at `healthPath(id)`.
 */
export function registerStatusMethod(
  host: StatusMethodHost & HealthRouteHost,
  id: string,
  read: () => ExtensionStatus,
): void {
  trackExtensionState(id, read);
  // The image's HEALTHCHECK reads this; it carries the state only, so it needs no token.
  host.registerHttpRoute?.({
    path: healthPath(id),
    auth: "plugin",
    handler: (_req, res) => {
      let state = "error";
      try {
        state = read().state;
      } catch {}
      const healthy = !UNHEALTHY_STATES.includes(state);
      res.statusCode = healthy ? 200 : 503;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ id, state, healthy }));
      return true;
    },
  });
  host.registerGatewayMethod(`${id}.status`, ({ respond }) => {
    try {
      respond(true, read());
    } catch (err) {
      respond(false, undefined, { code: "UNAVAILABLE", message: `${id}.status failed: ${String(err)}` });
    }
  });
}

interface AnnounceLogger {
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
}

/**
 * A service that says once, at gateway start, where the extension stands — disabled (info),
 * invalid or unconfigured (warn) — instead of on every `register()` (which runs twice).
 */
export function announceStatusService(id: string, logger: AnnounceLogger, read: () => ExtensionStatus) {
  return {
    id: `${id}-status`,
    start() {
      const s = read();
      if (s.state === "disabled") logger.info(`${id} disabled: ${s.reason ?? "not enabled"}`);
      else if (s.state === "invalid" || s.state === "unconfigured" || s.state === "error") {
        logger.warn(`${id} not started: ${s.reason ?? s.state}`);
      } else logger.info(`${id} ${s.state}${s.reason ? `: ${s.reason}` : ""}`);
    },
    // Said on the way down, so an operator (and the topology test) can see the stop reached it.
    stop() {
      logger.info(`${id} stopped`);
    },
  };
}

/**
 * Where a started service leaves its live object for the gateway methods to read. `register()`
 * runs more than once per gateway (and the module may be loaded more than once), so a closure
 * over one registration's variables may not see the service that actually started; a slot on
 * globalThis keyed by plugin id does.
 */
export function liveSlot<T>(pluginId: string): { get(): T | undefined; set(v: T | undefined): void } {
  const key = Symbol.for(`openclaw-bundle.live.${pluginId}`);
  const g = globalThis as Record<symbol, unknown>;
  return {
    get: () => g[key] as T | undefined,
    set: (v) => {
      g[key] = v;
    },
  };
}
