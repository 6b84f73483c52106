import { agentruxConfig } from "./config-schema.ts";
import { TOOL_NAMES } from "./tool-names.ts";

/** One source for the entry and the generated openclaw.plugin.json. */
export const MANIFEST = {
  id: "agentrux-openclaw-plugin",
  name: "AgenTrux",
  description: "AgenTrux pub/sub channel: commands in, results out",
  config: agentruxConfig,
  channels: ["agentrux-openclaw-plugin"],
  tools: TOOL_NAMES,
} as const;
