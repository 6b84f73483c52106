/**
 * Keeps secrets out of log lines and error messages. Two nets: field names that hold secrets are
 * masked wherever they appear in structured data, and values registered as secrets at runtime
 * (a mesh secret read from env, a lease token) are masked inside any string.
 */
const REDACTED = "[redacted]";

const SECRET_KEY =
  /secret|token|password|passwd|api[-_]?key|authorization|cookie|credential|private[-_]?key|activation[-_]?code|access[-_]?key/i;

/** Values shorter than this are too likely to appear innocently in text to mask by value. */
const MIN_MASKED_LENGTH = 6;
const MAX_DEPTH = 8;

const registered = new Set<string>();

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Registers a value to mask wherever it shows up in a log line. Returns an unregister function. */
export function registerSecret(value: string | undefined): () => void {
  if (!value || value.length < MIN_MASKED_LENGTH) return () => {};
  registered.add(value);
  return () => registered.delete(value);
}

export function redactString(text: string): string {
  let out = text;
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  // Bearer tokens in copied headers or URLs.
  return out.replace(/\b(Bearer)\s+[A-Za-z0-9._~+/=-]{6,}/g, `$1 ${REDACTED}`);
}

/** A deep copy of `value` with secret fields masked; cycles and depth are bounded. */
export function redact<T>(value: T, depth = 0, seen = new WeakSet<object>()): T {
  if (typeof value === "string") return redactString(value) as T;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_DEPTH) return "[depth]" as T;
  if (seen.has(value)) return "[cycle]" as T;
  seen.add(value);
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown };
    return { name: e.name, message: redactString(e.message), ...(e.code ? { code: e.code } : {}) } as T;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // Only strings are masked by key: `prompt_tokens: 12` is a count, not a secret.
    out[k] = isSecretKey(k) && typeof v === "string" && v !== "" ? REDACTED : redact(v, depth + 1, seen);
  }
  return out as T;
}
