import { announceStatusService, createLogger, registerStatusMethod } from "@openclaw-bundle/shared";
import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { MANIFEST } from "./src/manifest.ts";
import { authManagerStatus, PLUGIN_ID, resolveAuthManager } from "./src/status.ts";

export default definePluginEntry({
  id: MANIFEST.id,
  name: MANIFEST.name,
  description: MANIFEST.description,
  register(api) {
    const logger = createLogger({ extension: PLUGIN_ID, sink: api.logger });
    const resolved = resolveAuthManager(api.pluginConfig);
    const status = () => authManagerStatus(resolved);
    registerStatusMethod(api, PLUGIN_ID, status);
    api.registerService(announceStatusService(PLUGIN_ID, logger, status));
  },
});
