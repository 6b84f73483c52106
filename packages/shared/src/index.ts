export { type AtomicWriteOptions, readJsonFile, writeFileAtomic, writeJsonAtomic } from "./atomic-file.ts";
export {
  Backoff,
  type BackoffOptions,
  DEFAULT_BACKOFF_INITIAL_MS,
  DEFAULT_BACKOFF_MAX_MS,
  sleep,
} from "./backoff.ts";
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
export { type ConfigSchemaDefinition, defineConfigSchema, describeIssues, parseList } from "./config.ts";
export { BoundedSet } from "./dedup.ts";
export { BundleError, errorFactory, errorMessage, isBundleError, SHARED_CODES } from "./errors.ts";
export { derefEnv, type LocalEndpoint, localGatewayFrom } from "./local-gateway.ts";
export { createLogger, type Logger, type LoggerOptions, type LogSink } from "./logger.ts";
export {
  Heartbeat,
  type HeartbeatOptions,
  Periodic,
  type PeriodicOptions,
} from "./periodic.ts";
export { PersistedSet } from "./persisted-set.ts";
export {
  type AnnounceLogger,
  announceStatusService,
  type ExtensionState,
  type ExtensionStatus,
  healthPath,
  liveSlot,
  type ResolvedConfig,
  type ResolveOptions,
  registerStatusMethod,
  resolvePluginConfig,
  type StatusMethodHost,
  UNHEALTHY_STATES,
} from "./plugin-kit.ts";
export { isSecretKey, REDACTED, redact, redactString, registerSecret } from "./redact.ts";
export { SingleFlight, singleFlight } from "./single-flight.ts";
export {
  type AgentTool,
  guardTool,
  schemaObject,
  schemaString,
  type ToolParams,
  type ToolResult,
  textResult,
} from "./tool-kit.ts";
