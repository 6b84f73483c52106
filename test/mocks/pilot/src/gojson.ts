/**
 * JSON as Go's `encoding/json` writes a `map[string]interface{}`: keys sorted, compact, and `<`,
 * `>`, `&`, U+2028 and U+2029 escaped. The real pilotctl builds every answer from maps, so the
 * stand-in prints the same bytes for the same data (the contract tests compare them byte for byte).
 */

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = sortKeys(x);
  }
  return out;
}

export function goJson(v: unknown): string {
  return JSON.stringify(sortKeys(v))
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}
