import {
  announceStatusService,
  createLogger,
  liveSlot,
  localGatewayFrom,
  registerStatusMethod,
} from "@openclaw-bundle/shared";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { execDecision } from "./exec-policy.ts";
import { AgentruxService, type Config } from "./service.ts";
import { agentruxStatus, PLUGIN_ID, resolveAgentrux } from "./status.ts";
import { TOOL_NAMES } from "./tool-names.ts";
import { createTools } from "./tools.ts";

export function registerAgentrux(api: OpenClawPluginApi): void {
  const logger = createLogger({ extension: PLUGIN_ID, sink: api.logger });
  const resolved = resolveAgentrux(api.pluginConfig);
  const slot = liveSlot<AgentruxService>(PLUGIN_ID);
  const status = () => agentruxStatus(resolved, slot.get());
  registerStatusMethod(api, PLUGIN_ID, status);
  api.registerService(announceStatusService(PLUGIN_ID, logger, status));
  if (!resolved.ok) return;
  const config = resolved.config as Config;
  api.registerTool((ctx) => createTools(() => slot.get(), config, ctx) as never, { names: [...TOOL_NAMES] });
  api.on("before_tool_call", (event, ctx) =>
    execDecision(config.execPolicy, event.toolName, event.params, ctx.sessionKey),
  );
  api.registerService({
    id: `${PLUGIN_ID}-ingress`,
    async start() {
      await slot.get()?.stop();
      const service = new AgentruxService(config, logger, () => localGatewayFrom(api.config));
      slot.set(service);
      await service
        .start()
        .catch((err) => logger.error(`AgenTrux failed to start: ${(err as Error).message}`));
    },
    async stop() {
      await slot.get()?.stop();
    },
  });
}
