import { cutEncoded, encodedLength } from "../protocol/sizes.ts";

/**
 * The serving node's tool-proxy policy (ARCHITECTURE "The mesh"): off unless enabled; `[]` or
 * `["*"]` allows every tool but the unconfined ones; deny always wins. Pure.
 */
interface ToolPolicy {
  enabled: boolean;
  allow: string[];
  deny: string[];
  maxOutputBytes: number;
}

/** The gateway's own aliases (openclaw tool-policy-shared TOOL_NAME_ALIASES). */
const TOOL_NAME_ALIASES = new Map([
  ["bash", "exec"],
  ["apply-patch", "apply_patch"],
  ["cron", "automations"],
]);

/**
 * A tool name as the gateway's policy sees it: trimmed (the gateway trims before lookup, so
 * `" process"` runs `process`), lower-cased, aliases resolved. Both the requested name and every
 * allow/deny entry go through it, and the normalized name is what the gateway is asked to run,
 * so what was checked is what runs.
 */
export function normalizeToolName(name: string): string {
  const n = name.trim().toLowerCase();
  return TOOL_NAME_ALIASES.get(n) ?? n;
}

/**
 * Tools no workspace confines (a shell and its processes; PROTOCOL §7): a peer reaches them only
 * when the serving node names them in `allow`, never through `[]` or `*`.
 */
const UNCONFINED = new Set(["exec", "process"]);

export function toolRefusal(node: string, policy: ToolPolicy, tool: string): string | undefined {
  if (!policy.enabled) return `the tool proxy is off on ${node} (toolProxy.enabled is false)`;
  const name = normalizeToolName(tool);
  const deny = policy.deny.map(normalizeToolName);
  const allow = policy.allow.map(normalizeToolName).filter(Boolean);
  if (!name) return "an empty tool name";
  if (deny.includes(name) || deny.includes("*"))
    return `tool "${name}" is denied by ${node}'s toolProxy.deny`;
  if (UNCONFINED.has(name) && !allow.includes(name))
    return `tool "${name}" runs commands outside the workspace: ${node} serves it only when toolProxy.allow names it (CLAWMATRIX_TOOL_PROXY=allow=...,${name})`;
  const all = allow.length === 0 || allow.includes("*");
  if (!all && !allow.includes(name))
    return `tool "${name}" is not in ${node}'s toolProxy.allow (${policy.allow.join(", ")})`;
  return undefined;
}

/**
 * Caps text at `max` bytes as sent, i.e. JSON-encoded (a control character counts 6), cutting on
 * a character boundary, with a marker saying so. The marker's own bytes come on top of `max`;
 * the config bound (MAX_TOOL_OUTPUT_BYTES) leaves room for it and the frame around it.
 */
export function capOutput(text: string, max: number): { output: string; truncated: boolean } {
  const bytes = encodedLength(text);
  if (bytes <= max) return { output: text, truncated: false };
  const { head } = cutEncoded(text, max);
  return { output: `${head}\n[clawmatrix: output truncated at ${max} of ${bytes} bytes]`, truncated: true };
}
