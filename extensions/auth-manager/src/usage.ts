/** Token usage in whatever shape a provider reported it, normalised to in/out counts. */
export interface Usage {
  tokensIn: number;
  tokensOut: number;
}

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : undefined;

/**
 * Reads the host's `llm_output` usage (`input`/`output`/`cacheRead`/`cacheWrite`), OpenAI style
 * (`prompt_tokens`/`completion_tokens`), Responses style (`input_tokens`/`output_tokens`) or direct
 * counters (`tokens_in`/`tokens_out`). Returns undefined when there is nothing to count: usage is
 * never invented.
 */
export function normalizeUsage(raw: unknown): Usage | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const u = raw as Record<string, unknown>;
  const input =
    num(u.input) !== undefined
      ? (num(u.input) ?? 0) + (num(u.cacheRead) ?? 0) + (num(u.cacheWrite) ?? 0)
      : (num(u.prompt_tokens) ?? num(u.input_tokens) ?? num(u.tokens_in));
  const output = num(u.output) ?? num(u.completion_tokens) ?? num(u.output_tokens) ?? num(u.tokens_out);
  if (input === undefined && output === undefined) {
    const total = num(u.total) ?? num(u.total_tokens);
    return total === undefined ? undefined : { tokensIn: total, tokensOut: 0 };
  }
  return { tokensIn: input ?? 0, tokensOut: output ?? 0 };
}

interface PendingCounters {
  leaseId: string | undefined;
  requests: number;
  tokensIn: number;
  tokensOut: number;
  firstAt: string | undefined;
}

/**
 * Usage accumulated for one lease until flushed. A flush takes a snapshot and only subtracts
 * it once the broker accepted it, so a failed flush loses nothing and a request counted during
 * a flush is not lost either.
 */
export class UsageAccumulator {
  #c: PendingCounters = { leaseId: undefined, requests: 0, tokensIn: 0, tokensOut: 0, firstAt: undefined };

  get pending(): Readonly<PendingCounters> {
    return this.#c;
  }

  get isEmpty(): boolean {
    return this.#c.requests === 0 && this.#c.tokensIn === 0 && this.#c.tokensOut === 0;
  }

  /** Starts counting for a new lease; counts of the previous one are dropped (returned). */
  switchLease(leaseId: string | undefined): PendingCounters | undefined {
    if (this.#c.leaseId === leaseId) return undefined;
    const old = this.#c;
    this.#c = { leaseId, requests: 0, tokensIn: 0, tokensOut: 0, firstAt: undefined };
    return old.requests || old.tokensIn || old.tokensOut ? old : undefined;
  }

  add(u: Usage, at = new Date()): number {
    this.#c.requests += 1;
    this.#c.tokensIn += u.tokensIn;
    this.#c.tokensOut += u.tokensOut;
    this.#c.firstAt ??= at.toISOString();
    return this.#c.requests;
  }

  snapshot(): PendingCounters {
    return { ...this.#c };
  }

  /** Removes what a successful flush reported, if the lease did not change meanwhile. */
  commit(s: PendingCounters): void {
    if (s.leaseId !== this.#c.leaseId) return;
    this.#c.requests = Math.max(0, this.#c.requests - s.requests);
    this.#c.tokensIn = Math.max(0, this.#c.tokensIn - s.tokensIn);
    this.#c.tokensOut = Math.max(0, this.#c.tokensOut - s.tokensOut);
    if (this.isEmpty) this.#c.firstAt = undefined;
  }
}
