import type { AnyAgentTool } from "openclaw/plugin-sdk/plugin-entry";
import { BundleError, errorMessage } from "./errors.ts";

/**
 * The shape every agent tool of the bundle shares: parameters in, one text part (plus machine-
 * readable details) out, and errors answered as `error <CODE>: <what to do>` instead of thrown
 * into the agent's turn. Derived from the host's own tool type (SDK types only, no SDK code), so
 * a tool `api.registerTool` would refuse does not compile.
 */

/** The arguments of one call: the host has checked them against the tool's JSON Schema object. */
export type ToolParams = Record<string, unknown>;

type HostToolResult = Awaited<ReturnType<AnyAgentTool["execute"]>>;
type TextPart = Extract<HostToolResult["content"][number], { type: "text" }>;

/** The host's tool result, narrowed to text parts: every tool here answers in words. */
export interface ToolResult extends HostToolResult {
  content: TextPart[];
}

/** The host's tool (`label` is the short human title its UI shows), with the bundle's execute. */
export type AgentTool = Pick<AnyAgentTool, "name" | "label" | "description" | "parameters"> & {
  execute(toolCallId: string, params: ToolParams, signal?: AbortSignal): Promise<ToolResult>;
};

export function textResult(text: string, details: unknown): ToolResult {
  return { content: [{ type: "text", text }], details };
}

/** Wraps a tool body so a failure becomes an answer naming its stable code (`fallbackCode` if none). */
export function guardTool(
  fallbackCode: string,
  fn: (p: ToolParams, signal?: AbortSignal) => Promise<ToolResult>,
): AgentTool["execute"] {
  return async (_id, p, signal) => {
    try {
      return await fn(p ?? {}, signal);
    } catch (err) {
      const code = err instanceof BundleError ? err.code : fallbackCode;
      return textResult(`error ${code}: ${errorMessage(err)}`, { error: code });
    }
  };
}

/** JSON Schema pieces for tool parameters. */
export const schemaString = (description: string) => ({ type: "string", description });

/** A closed object: unknown arguments are refused by the host before the tool runs. */
export const schemaObject = (properties: Record<string, unknown>, required: string[]) => ({
  type: "object",
  properties,
  required,
  additionalProperties: false,
});
