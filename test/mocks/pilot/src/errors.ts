/**
 * The error codes of pilotctl's JSON envelope (EXTERNAL-APIS.md section 3). One error class carries
 * a code and an optional hint from wherever a failure starts (daemon, IPC, rendezvous client) to
 * the envelope pilotctl prints, so the code a caller branches on is decided once, at the source.
 */

export const ERROR_CODES = [
  "invalid_argument",
  "not_found",
  "already_exists",
  "not_running",
  "connection_failed",
  "timeout",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const isErrorCode = (v: unknown): v is ErrorCode => ERROR_CODES.includes(v as ErrorCode);

export class PilotError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  constructor(code: ErrorCode, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "PilotError";
    this.code = code;
    if (opts.hint) this.hint = opts.hint;
  }
}

/** The hint the real CLI gives when data is sent to a node without mutual trust. */
export const UNTRUSTED_HINT = "run pilotctl handshake <id> first and wait for approval";

/** Success on stdout: `{ status: "ok", data }`. */
export const okEnvelope = (data: unknown) => ({ status: "ok" as const, data });

/** Failure on stderr: `{ status: "error", code, message, hint? }`. */
export function errorEnvelope(err: unknown): {
  status: "error";
  code: ErrorCode;
  message: string;
  hint?: string;
} {
  const e =
    err instanceof PilotError
      ? err
      : new PilotError("internal", err instanceof Error ? err.message : String(err));
  return { status: "error", code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
}
