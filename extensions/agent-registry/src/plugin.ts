import {
  announceStatusService,
  createLogger,
  errorMessage,
  registerStatusMethod,
} from "@openclaw-bundle/shared";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { liveAccount } from "./channel.ts";
import { registerRegistryMetrics } from "./metrics.ts";
import { agentRegistryStatus, PLUGIN_ID, resolveAgentRegistry } from "./status.ts";
import { createAgentNetworkTool, TOOL_NAME } from "./tools.ts";

/** The full-runtime half of the entry: status and refresh methods, the tool, the start-up note. */
export function registerAgentRegistry(api: OpenClawPluginApi): void {
  const logger = createLogger({ extension: PLUGIN_ID, sink: api.logger });
  const resolved = resolveAgentRegistry(api.pluginConfig);
  const status = () => agentRegistryStatus(resolved, liveAccount.get());
  registerStatusMethod(api, PLUGIN_ID, status);
  registerRegistryMetrics();
  api.registerService(announceStatusService(PLUGIN_ID, logger, status));
  if (!resolved.ok) return;
  api.registerGatewayMethod(`${PLUGIN_ID}.refresh`, ({ params, respond }) => {
    const account = liveAccount.get();
    if (!account) {
      respond(false, undefined, {
        code: "UNAVAILABLE",
        message: "the agent-registry channel is not running",
      });
      return;
    }
    const d = (params as { discoverable?: unknown } | undefined)?.discoverable;
    if (d !== undefined && typeof d !== "boolean") {
      respond(false, undefined, {
        code: "INVALID_REQUEST",
        message: `discoverable must be true or false (got ${JSON.stringify(d)})`,
      });
      return;
    }
    account.refresh(d).then(
      () => respond(true, status()),
      (err) => respond(false, undefined, { code: "UNAVAILABLE", message: errorMessage(err) }),
    );
  });
  api.registerTool(() => createAgentNetworkTool(() => liveAccount.get()), { names: [TOOL_NAME] });
}
