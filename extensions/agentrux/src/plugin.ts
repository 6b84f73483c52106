import { announceStatusService, createLogger, registerStatusMethod } from "@openclaw-bundle/shared";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { liveService } from "./channel.ts";
import { execDecision } from "./exec-policy.ts";
import { registerAgentruxMetrics } from "./metrics.ts";
import type { Config } from "./service.ts";
import { agentruxStatus, PLUGIN_ID, resolveAgentrux } from "./status.ts";
import { TOOL_NAMES } from "./tool-names.ts";
import { createTools } from "./tools.ts";

/**
 * The full-runtime half of the entry: the status method, the tools and the start-up note. The
 * ingress itself is the channel account (channel.ts).
 */
export function registerAgentrux(api: OpenClawPluginApi): void {
  const logger = createLogger({ extension: PLUGIN_ID, sink: api.logger });
  const resolved = resolveAgentrux(api.pluginConfig);
  const status = () => agentruxStatus(resolved, liveService.get());
  registerStatusMethod(api, PLUGIN_ID, status);
  registerAgentruxMetrics();
  api.registerService(announceStatusService(PLUGIN_ID, logger, status));
  if (!resolved.ok) return;
  const config = resolved.config as Config;
  api.registerTool((ctx) => createTools(() => liveService.get(), config, ctx), {
    names: [...TOOL_NAMES],
  });
}

/**
 * execPolicy, in the host's `before_tool_call` hook. Registered from every registration mode the
 * channel entry offers (full, discovery, tool discovery): the host runs hooks from whichever
 * registry it activated last, and a hook registered in full mode only was found missing there.
 */
export function registerExecPolicy(api: OpenClawPluginApi): void {
  const resolved = resolveAgentrux(api.pluginConfig);
  if (!resolved.ok) return;
  const policy = resolved.config.execPolicy;
  api.on("before_tool_call", (event, ctx) =>
    execDecision(policy, event.toolName, event.params, ctx.sessionKey),
  );
}
