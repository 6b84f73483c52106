import { countError } from "./metrics.ts";

/**
 * One error class for the bundle, after ws's error factory: every error carries a stable `code`
 * (`CONFIG_ERR_*`, `MESH_ERR_*`, `AGENTRUX_ERR_*`, ...) that tests and callers match on, a message
 * that names the offending value, and the `cause` it wraps.
 */
export class BundleError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BundleError";
    this.code = code;
    this.details = options.details;
    // Counted where raised: every extension's errors by code, for the scrape (metrics.ts bounds the code).
    countError(code);
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isBundleError(err: unknown, code?: string): err is BundleError {
  return err instanceof BundleError && (code === undefined || err.code === code);
}

/**
 * Builds an error factory bound to one extension's code prefix, so codes cannot drift:
 * `const meshError = errorFactory("MESH_ERR"); throw meshError("AUTH_FAILED", "...")`.
 */
export function errorFactory(prefix: string) {
  return (code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) =>
    new BundleError(`${prefix}_${code}`, message, options);
}

/** The message of anything thrown, without its stack; for log lines and status reasons. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : (JSON.stringify(err) ?? String(err));
}

/** Shared codes used by the plumbing itself. */
export const SHARED_CODES = {
  CONFIG_INVALID: "CONFIG_ERR_INVALID",
  FILE_WRITE: "FILE_ERR_WRITE",
  ABORTED: "BUNDLE_ERR_ABORTED",
} as const;
