import { Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * Prometheus metrics for the whole bundle. Each extension is compiled with this module inlined,
 * so a module-level registry would exist once per extension; the registry lives on globalThis
 * instead, and every extension's metrics land in the one the scrape route serves. Creating a
 * metric that already exists returns the existing one: the host runs `register()` more than once.
 *
 * Labels are bounded by construction: `label()` keeps a value only when it looks like an id
 * (letters, digits, `._:-`, at most 64 chars) and each metric keeps at most MAX_SERIES distinct
 * label sets; anything else becomes "other". Never a session id, prompt or secret.
 */

/** Path of the scrape route on every gateway (behind the gateway's auth). */
export const METRICS_PATH = "/bundle/metrics";
/** Distinct label sets one metric may hold before new ones fold into "other". */
export const MAX_SERIES = 512;
/** Round trips and durations, in seconds: 1 ms to 2 min. */
export const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const REGISTRY_KEY = Symbol.for("openclaw-bundle.metrics.registry");
const STATES_KEY = Symbol.for("openclaw-bundle.metrics.states");
const SERIES_KEY = Symbol.for("openclaw-bundle.metrics.series");

type Global = Record<symbol, unknown>;

/** The one registry of this process. */
export function metricsRegistry(): Registry {
  const g = globalThis as Global;
  g[REGISTRY_KEY] ??= new Registry();
  return g[REGISTRY_KEY] as Registry;
}

/**
 * Seen label sets per metric, shared like the registry (the cap must hold across extensions);
 * keyed by the metric object, which the registry hands every extension once it exists.
 */
function seriesOf(metric: object): Set<string> {
  const g = globalThis as Global;
  g[SERIES_KEY] ??= new WeakMap<object, Set<string>>();
  const all = g[SERIES_KEY] as WeakMap<object, Set<string>>;
  let s = all.get(metric);
  if (!s) {
    s = new Set();
    all.set(metric, s);
  }
  return s;
}

const ID_LIKE = /^[A-Za-z0-9._:-]{1,64}$/;

/** A label value safe to export: id-like text as is, anything else "other". */
export function label(value: unknown): string {
  const s = typeof value === "string" ? value : String(value ?? "");
  return ID_LIKE.test(s) ? s : "other";
}

type Labels<L extends string> = Partial<Record<L, string | number>>;

/** Labels made safe, and folded into "other" once the metric holds MAX_SERIES label sets. */
export function boundLabels<L extends string>(metric: object, labels: Labels<L>): Labels<L> {
  const clean = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, label(v)])) as Labels<L>;
  const key = JSON.stringify(clean);
  const seen = seriesOf(metric);
  if (seen.has(key)) return clean;
  if (seen.size < MAX_SERIES) {
    seen.add(key);
    return clean;
  }
  return Object.fromEntries(Object.keys(clean).map((k) => [k, "other"])) as Labels<L>;
}

interface MetricSpec<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

function existing<T>(name: string): T | undefined {
  return metricsRegistry().getSingleMetric(name) as T | undefined;
}

export function counter<L extends string = string>(
  spec: MetricSpec<L> & { collect?: (this: Counter<L>) => void },
): Counter<L> {
  return (
    existing<Counter<L>>(spec.name) ??
    new Counter<L>({ ...spec, labelNames: spec.labelNames ?? [], registers: [metricsRegistry()] })
  );
}

export function gauge<L extends string = string>(
  spec: MetricSpec<L> & { collect?: (this: Gauge<L>) => void },
): Gauge<L> {
  return (
    existing<Gauge<L>>(spec.name) ??
    new Gauge<L>({ ...spec, labelNames: spec.labelNames ?? [], registers: [metricsRegistry()] })
  );
}

export function histogram<L extends string = string>(
  spec: MetricSpec<L> & { buckets?: number[] },
): Histogram<L> {
  return (
    existing<Histogram<L>>(spec.name) ??
    new Histogram<L>({
      ...spec,
      labelNames: spec.labelNames ?? [],
      buckets: spec.buckets ?? SECONDS_BUCKETS,
      registers: [metricsRegistry()],
    })
  );
}

/** Counter increment with bounded labels. */
export function inc<L extends string>(c: Counter<L>, labels: Labels<L> = {}, by = 1): void {
  c.inc(boundLabels(c, labels), by);
}

/** Histogram observation with bounded labels. */
export function observe<L extends string>(h: Histogram<L>, labels: Labels<L>, value: number): void {
  h.observe(boundLabels(h, labels), value);
}

// --- the metrics every extension has -----------------------------------------------------------

const STATES = ["disabled", "invalid", "unconfigured", "idle", "running", "degraded", "error"] as const;

type StatusReader = () => { state: string } & Record<string, unknown>;

function stateReaders(): Map<string, StatusReader> {
  const g = globalThis as Global;
  g[STATES_KEY] ??= new Map<string, StatusReader>();
  return g[STATES_KEY] as Map<string, StatusReader>;
}

/** The extension's status as its `<id>.status` method would answer now; undefined if unknown or failing. */
export function statusOf(extension: string): Record<string, unknown> | undefined {
  try {
    return stateReaders().get(extension)?.();
  } catch {
    return undefined;
  }
}

type Sample<L extends string> = [Labels<L>, number];

/**
 * A metric whose values are read from the extension's status at scrape time: for counters the
 * extension already keeps (a status and a scrape then never disagree). Absent status: no samples.
 */
export function statusMetric<L extends string>(
  type: "counter" | "gauge",
  spec: MetricSpec<L> & { extension: string; samples: (status: Record<string, unknown>) => Sample<L>[] },
): void {
  const { extension, samples, ...rest } = spec;
  const collect = function (this: Counter<L> | Gauge<L>) {
    this.reset();
    const s = statusOf(extension);
    if (!s) return;
    for (const [labels, v] of samples(s))
      if (Number.isFinite(v) && v >= 0) {
        const l = boundLabels(this, labels);
        if (type === "gauge") (this as Gauge<L>).set(l, v);
        else (this as Counter<L>).inc(l, v);
      }
  };
  if (type === "gauge") gauge({ ...rest, collect });
  else if (!existing(spec.name))
    new Counter<L>({ ...rest, labelNames: rest.labelNames ?? [], registers: [metricsRegistry()], collect });
}

/** A number from a status field path (`counters.received`), 0 when absent or not a number. */
export function numberAt(status: Record<string, unknown>, path: string): number {
  let v: unknown = status;
  for (const k of path.split("."))
    v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/**
 * `openclaw_bundle_extension_state{extension,state}`: 1 for the state the extension reports at
 * scrape time, 0 for the others. The latest reader per extension wins (register() runs again).
 */
export function trackExtensionState(extension: string, read: StatusReader): void {
  stateReaders().set(extension, read);
  gauge({
    name: "openclaw_bundle_extension_state",
    help: "1 for the state each extension is in (disabled, invalid, unconfigured, idle, running, degraded, error), 0 for the others",
    labelNames: ["extension", "state"] as const,
    collect() {
      this.reset();
      for (const [ext, reader] of stateReaders()) {
        let now = "error";
        try {
          now = reader().state;
        } catch {}
        for (const s of STATES) this.set({ extension: ext, state: s }, s === now ? 1 : 0);
      }
    },
  });
}

/** Code prefixes (errorFactory's) to the extension that raises them. */
const PREFIXES: ReadonlyArray<[string, string]> = [
  ["MESH_ERR", "clawmatrix"],
  ["AGENTRUX_ERR", "agentrux-openclaw-plugin"],
  ["AGENT_REGISTRY_ERR", "agent-registry"],
  ["REGISTRY_ERR", "agent-registry"],
  ["PILOT_ERR", "agent-registry"],
  ["LEASE_ERR", "auth-manager-lease-telemetry"],
];

/** `openclaw_bundle_errors_total{extension,code}`: one more error raised with this stable code. */
export function countError(code: string): void {
  const extension = PREFIXES.find(([p]) => code.startsWith(`${p}_`))?.[1] ?? "shared";
  inc(
    counter({
      name: "openclaw_bundle_errors_total",
      help: "Errors raised by the bundle's extensions, by extension and stable error code",
      labelNames: ["extension", "code"] as const,
    }),
    { extension, code },
  );
}

/** The text a scrape gets, and its content type. */
export async function scrape(): Promise<{ contentType: string; body: string }> {
  const r = metricsRegistry();
  return { contentType: r.contentType, body: await r.metrics() };
}

interface RouteResponse {
  statusCode: number;
  setHeader(k: string, v: string): void;
  end(body: string): void;
}

/** The part of the host's API the scrape route needs; testable without a gateway. */
export interface MetricsRouteHost {
  registerHttpRoute?(params: {
    path: string;
    auth: "gateway";
    match: "exact";
    handler: (req: { method?: string }, res: RouteResponse) => Promise<boolean>;
  }): void;
}

/**
 * `GET /bundle/metrics`, behind the gateway's own auth (its bearer token), like the host's
 * diagnostics routes: the page names peers and agents, which a stranger has no business reading.
 * One extension registers it; it serves every extension's metrics (one registry per process).
 */
export function registerMetricsRoute(host: MetricsRouteHost): void {
  host.registerHttpRoute?.({
    path: METRICS_PATH,
    auth: "gateway",
    match: "exact",
    handler: async (req, res) => {
      if (req.method !== undefined && req.method !== "GET" && req.method !== "HEAD") {
        res.statusCode = 405;
        res.setHeader("allow", "GET, HEAD");
        res.end(`${METRICS_PATH} answers GET only, not ${label(req.method)}\n`);
        return true;
      }
      try {
        const { contentType, body } = await scrape();
        res.statusCode = 200;
        res.setHeader("content-type", contentType);
        res.end(body);
      } catch (err) {
        res.statusCode = 500;
        res.setHeader("content-type", "text/plain");
        res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      return true;
    },
  });
}
