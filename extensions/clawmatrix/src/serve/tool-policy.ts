/**
 * The serving node's tool-proxy policy (ARCHITECTURE "The mesh"): off unless enabled; `[]` or
 * `["*"]` allows every tool; deny always wins. Pure.
 */
interface ToolPolicy {
  enabled: boolean;
  allow: string[];
  deny: string[];
  maxOutputBytes: number;
}

export function toolRefusal(node: string, policy: ToolPolicy, tool: string): string | undefined {
  if (!policy.enabled) return `the tool proxy is off on ${node} (toolProxy.enabled is false)`;
  if (policy.deny.includes(tool) || policy.deny.includes("*"))
    return `tool "${tool}" is denied by ${node}'s toolProxy.deny`;
  const all = policy.allow.length === 0 || policy.allow.includes("*");
  if (!all && !policy.allow.includes(tool))
    return `tool "${tool}" is not in ${node}'s toolProxy.allow (${policy.allow.join(", ")})`;
  return undefined;
}

/** Caps text at `max` bytes (UTF-8), cutting on a character boundary, with a marker saying so. */
export function capOutput(text: string, max: number): { output: string; truncated: boolean } {
  const bytes = Buffer.byteLength(text);
  if (bytes <= max) return { output: text, truncated: false };
  let cut = Buffer.from(text).subarray(0, max).toString("utf8");
  if (cut.endsWith("\uFFFD")) cut = cut.slice(0, -1);
  return { output: `${cut}\n[clawmatrix: output truncated at ${max} of ${bytes} bytes]`, truncated: true };
}
