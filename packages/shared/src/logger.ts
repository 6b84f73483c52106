import winston from "winston";
import Transport from "winston-transport";
import { redact, redactString } from "./redact.ts";

/** The part of OpenClaw's `api.logger` the bridge uses. */
export interface LogSink {
  debug?: (message: string) => void;
  info: (message: string) => void;
  warn: (message: string) => void;
  error: (message: string) => void;
}

export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Extension id; tags every line. */
  extension: string;
  /** Inside a gateway, `api.logger`: lines go to the gateway's log instead of stdout. */
  sink?: LogSink;
  /** Defaults to BUNDLE_LOG_LEVEL or `info`. */
  level?: string;
  /** Extra transports (tests capture lines with one). */
  transports?: Transport[];
}

const LEVELS = ["error", "warn", "info", "debug"] as const;

/** Masks secrets in the message and in every structured field, before any transport sees them. */
const redactFormat = winston.format((info) => {
  const masked = redact({ ...info }) as Record<string | symbol, unknown>;
  for (const key of Object.keys(masked)) (info as Record<string, unknown>)[key] = masked[key];
  if (typeof info.message === "string") info.message = redactString(info.message);
  return info;
});

/** Forwards each line to the gateway's logger as `message {json meta}`. */
class SinkTransport extends Transport {
  readonly #sink: LogSink;
  constructor(sink: LogSink, level: string) {
    super({ level });
    this.#sink = sink;
  }
  override log(info: Record<string, unknown>, next: () => void): void {
    const { level, message, extension, timestamp: _t, ...meta } = info;
    const metaText = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : "";
    const line = `[${String(extension)}] ${String(message)}${metaText}`;
    const fn =
      level === "debug"
        ? (this.#sink.debug ?? this.#sink.info)
        : this.#sink[level as "info" | "warn" | "error"];
    try {
      (fn ?? this.#sink.info).call(this.#sink, line);
    } catch {
      // A failing host logger must never take the extension down with it.
    }
    next();
  }
}

function wrap(w: winston.Logger): Logger {
  return {
    debug: (m, meta) => void w.debug(m, meta),
    info: (m, meta) => void w.info(m, meta),
    warn: (m, meta) => void w.warn(m, meta),
    error: (m, meta) => void w.error(m, meta),
    child: (meta) => wrap(w.child(meta)),
  };
}

/**
 * The one logger of the bundle: JSON lines on stdout outside a gateway, the gateway's own logger
 * inside one; every line tagged with the extension id and stripped of secrets.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const envLevel = process.env.BUNDLE_LOG_LEVEL;
  const level =
    opts.level ?? (envLevel && (LEVELS as readonly string[]).includes(envLevel) ? envLevel : "info");
  const transports: Transport[] = [...(opts.transports ?? [])];
  if (opts.sink) transports.push(new SinkTransport(opts.sink, level));
  else if (!opts.transports) transports.push(new winston.transports.Console({ level }));
  const w = winston.createLogger({
    level,
    defaultMeta: { extension: opts.extension },
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports,
  });
  return wrap(w);
}
