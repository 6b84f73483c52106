import os from "node:os";

/**
 * Waits in the gateway tests follow conditions, never fixed sleeps, and their budgets grow with
 * what the machine shows: a quiet two-core machine boots a gateway in ~20 s, the same machine with
 * both cores busy elsewhere takes three to five times as long. A budget is the base figure a quiet
 * machine needs times `timeFactor()`: `TEST_TIME_FACTOR` when set (>= 1), else the run-queue
 * pressure (1-minute load average per core, at least 1), re-read while a wait runs so a load that
 * arrives mid-wait extends it. A wait that runs out says what it waited for and what it saw last.
 */

/** The factor from `TEST_TIME_FACTOR`, or undefined when unset; a bad value is refused by name. */
function configuredFactor(): number | undefined {
  const raw = process.env.TEST_TIME_FACTOR;
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1 || n > 50)
    throw new RangeError(`TEST_TIME_FACTOR=${JSON.stringify(raw)}: expected a number from 1 to 50`);
  return n;
}

/** How much slower than a quiet machine this one is right now (>= 1). */
function timeFactor(): number {
  const fixed = configuredFactor();
  if (fixed !== undefined) return fixed;
  const [load1 = 0] = os.loadavg();
  const perCore = load1 / Math.max(1, os.availableParallelism());
  return Math.max(1, Math.min(perCore, 10));
}

/** A quiet machine's `ms`, scaled for this one. */
export function budget(ms: number): number {
  return Math.round(ms * timeFactor());
}

export interface WaitOptions {
  /** What a quiet machine needs; scaled by `timeFactor()` (default 30 s). */
  ms?: number;
  /** Between reads (default 250 ms). */
  intervalMs?: number;
  /** Checked before each read: a reason here ends the wait at once (a process that exited). */
  failIf?: () => string | undefined;
}

/** One line of what was seen last, bounded so a huge status does not drown the failure. */
function describeSeen(v: unknown): string {
  let s: string;
  if (v instanceof Error) s = `${v.name}: ${v.message}`;
  else {
    try {
      s = typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
    } catch {
      s = String(v);
    }
  }
  return s.length > 2000 ? `${s.slice(0, 2000)}... (${s.length} chars)` : s;
}

/**
 * Calls `read` until `ok` holds for its answer, and returns that answer. A read that throws counts
 * as not yet (the error is what was seen). When the budget runs out it throws, naming `what`, the
 * time waited and the last answer or error.
 */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T> | T,
  ok: (v: T) => boolean = Boolean,
  opts: WaitOptions = {},
): Promise<T> {
  const base = opts.ms ?? 30_000;
  const interval = opts.intervalMs ?? 250;
  const t0 = Date.now();
  let factor = timeFactor();
  let last: { value?: T; error?: unknown } = {};
  for (;;) {
    const fatal = opts.failIf?.();
    if (fatal) throw new Error(`gave up waiting for ${what}: ${fatal}`);
    try {
      const v = await read();
      if (ok(v)) return v;
      last = { value: v };
    } catch (err) {
      last = { error: err };
    }
    factor = Math.max(factor, timeFactor());
    const waited = Date.now() - t0;
    if (waited >= base * factor) {
      const seen = "error" in last ? describeSeen(last.error) : describeSeen(last.value);
      throw new Error(
        `waited ${(waited / 1000).toFixed(1)} s (budget ${base / 1000} s x ${factor.toFixed(1)}) for ${what}; last saw: ${seen}`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
