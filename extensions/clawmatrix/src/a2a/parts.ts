import { randomUUID } from "node:crypto";
import { type Message, type Part, Role } from "@a2a-js/sdk";

/** A2A message parts as the mesh endpoint makes and reads them: text in, text out. */

export const textPart = (value: string): Part => ({
  content: { $case: "text", value },
  metadata: undefined,
  filename: "",
  mediaType: "text/plain",
});

/** A one-part text message. */
export function textMessage(
  role: Role,
  text: string,
  ids: { taskId?: string; contextId?: string; messageId?: string } = {},
  metadata?: Record<string, unknown>,
): Message {
  return {
    messageId: ids.messageId ?? randomUUID(),
    contextId: ids.contextId ?? "",
    taskId: ids.taskId ?? "",
    role,
    parts: [textPart(text)],
    metadata,
    extensions: [],
    referenceTaskIds: [],
  };
}

/** The text of parts: text as is, data as JSON, files as a bracketed link; binary left out. */
export function textOfParts(parts: readonly Part[] | undefined): string {
  return (parts ?? [])
    .map((p) => {
      const c = p.content;
      if (c?.$case === "text") return c.value;
      if (c?.$case === "data") return JSON.stringify(c.value);
      if (c?.$case === "url")
        return `[file${p.filename ? ` ${p.filename}` : ""}${p.mediaType ? ` (${p.mediaType})` : ""}: ${c.value}]`;
      return "";
    })
    .join("");
}

export { Role };
