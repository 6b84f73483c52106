/** The agent tools the AgenTrux plugin registers; also declared in the manifest's contracts.tools. */
export const TOOL_NAMES = [
  "agentrux_activate",
  "agentrux_publish",
  "agentrux_read",
  "agentrux_send_message",
  "agentrux_redeem_grant",
  "agentrux_upload",
] as const;
