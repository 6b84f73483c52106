/** Pure parts of the mock LLM: request parsing, deterministic replies, usage, SSE chunks. */

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
}

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface Reply {
  text: string;
  toolCalls?: ToolCall[];
  finishReason: "stop" | "tool_calls";
}

/** Text of a message whose content is a string or an array of `{ type: "text", text }` parts. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((p) =>
        p && typeof p === "object" && typeof (p as { text?: unknown }).text === "string"
          ? (p as { text: string }).text
          : "",
      )
      .filter(Boolean)
      .join("\n");
  }
  return "";
}

// OpenClaw adds runtime context to user turns inside these markers (sometimes as a user message of
// its own); a model would not take it for what the user said, and neither does the mock.
const INTERNAL_CONTEXT =
  /<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>[\s\S]*?(<<<END_OPENCLAW_INTERNAL_CONTEXT>>>|$)/g;

/** What the user said last: the newest user message with text outside OpenClaw's context blocks. */
/** Index of the last user message with words of its own (not only host-added context), or -1. */
function lastUserIndex(messages: ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role !== "user") continue;
    if (contentText(messages[i]?.content).replace(INTERNAL_CONTEXT, "").trim()) return i;
  }
  return -1;
}

export function lastUserText(messages: ChatMessage[]): string {
  const i = lastUserIndex(messages);
  return i < 0 ? "" : contentText(messages[i]?.content).replace(INTERNAL_CONTEXT, "").trim();
}

export function countWords(text: string): number {
  const t = text.trim();
  return t ? t.split(/\s+/).length : 0;
}

const TOOL_DIRECTIVE = /MOCK_TOOL_CALL\s+([A-Za-z0-9_.-]+)(?:\s+(\{.*\}))?/s;

/**
 * The deterministic answer: `[<name>] <model> reply #<n>: <last user text>`, a tool call when the
 * user text asks for one the request offers, or an echo of a tool result.
 */
export function buildReply(
  name: string,
  model: string,
  n: number,
  messages: ChatMessage[],
  toolNames: string[],
): Reply {
  // A tool result since the last user message is answered, not acted on again: hosts may add
  // messages of their own after it, and calling the tool again would loop.
  const result = messages.slice(lastUserIndex(messages) + 1).findLast((m) => m.role === "tool");
  if (result) {
    return {
      text: `[${name}] ${model} tool result: ${contentText(result.content).trim()}`,
      finishReason: "stop",
    };
  }
  const user = lastUserText(messages);
  const m = TOOL_DIRECTIVE.exec(user);
  if (m?.[1] && toolNames.includes(m[1])) {
    let args = "{}";
    if (m[2]) {
      try {
        args = JSON.stringify(JSON.parse(m[2]));
      } catch {
        args = "{}";
      }
    }
    return {
      text: "",
      toolCalls: [{ id: `call_${n}`, type: "function", function: { name: m[1], arguments: args } }],
      finishReason: "tool_calls",
    };
  }
  return { text: `[${name}] ${model} reply #${n}: ${user}`, finishReason: "stop" };
}

export function usageFor(messages: ChatMessage[], reply: Reply) {
  const prompt = messages.reduce((sum, m) => sum + countWords(contentText(m.content)), 0);
  const completion = countWords(reply.text) + (reply.toolCalls?.length ?? 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Splits text into word chunks that concatenate back to the text exactly. */
export function splitChunks(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

export function sse(data: unknown): string {
  return `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

export function openAiError(message: string, type: string, param: string | null, code: string | null) {
  return { error: { message, type, param, code } };
}
