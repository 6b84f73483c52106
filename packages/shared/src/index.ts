export { readJsonFile, writeFileAtomic, writeFileAtomicSync, writeJsonAtomic } from "./atomic-file.ts";
export { Backoff, sleep } from "./backoff.ts";
export { BUNDLE_EXTENSIONS, type BundleExtensionId } from "./bundle.ts";
export {
  abortable,
  type ConfiguredAccount,
  channelTarget,
  channelTurnConfig,
  configuredAccount,
  pluginEntryConfig,
  replyText,
  singleAccountChannel,
  untilAborted,
} from "./channel-kit.ts";
export { defineConfigSchema } from "./config.ts";
export { BoundedSet } from "./dedup.ts";
export { BundleError, errorFactory, errorMessage, isBundleError } from "./errors.ts";
export { derefEnv, localGatewayFrom } from "./local-gateway.ts";
export { createLogger, type Logger } from "./logger.ts";
export {
  boundLabels,
  counter,
  gauge,
  histogram,
  inc,
  label,
  METRICS_PATH,
  metricsRegistry,
  numberAt,
  observe,
  registerMetricsRoute,
  scrape,
  statusMetric,
  statusOf,
  trackExtensionState,
} from "./metrics.ts";
export { Heartbeat, Periodic, Throttle } from "./periodic.ts";
export { PersistedSet } from "./persisted-set.ts";
export {
  announceStatusService,
  type ExtensionState,
  type ExtensionStatus,
  liveSlot,
  type ResolvedConfig,
  registerStatusMethod,
  resolvePluginConfig,
} from "./plugin-kit.ts";
export { registerSecret } from "./redact.ts";
export { latestOnly, singleFlight } from "./single-flight.ts";
export {
  type AgentTool,
  guardTool,
  schemaObject,
  schemaString,
  type ToolParams,
  type ToolResult,
  textResult,
} from "./tool-kit.ts";
