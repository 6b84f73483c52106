import { authManagerConfig } from "./config-schema.ts";

/** One source for the entry and the generated openclaw.plugin.json. */
export const MANIFEST = {
  id: "auth-manager-lease-telemetry",
  name: "Auth Manager lease",
  description: "Sticky Codex credential lease from an Auth Manager broker, with usage telemetry",
  config: authManagerConfig,
} as const;
