/** The agent tools clawmatrix registers; also declared in the manifest's contracts.tools. */
export const TOOL_NAMES = [
  "cluster_peers",
  "cluster_handoff",
  "cluster_send",
  "cluster_exec",
  "cluster_read",
  "cluster_write",
  "cluster_tool",
] as const;
