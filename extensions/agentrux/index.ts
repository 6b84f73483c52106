import { defineChannelPluginEntry } from "openclaw/plugin-sdk/channel-core";
import { createChannelPlugin } from "./src/channel.ts";
import { MANIFEST } from "./src/manifest.ts";
import { registerAgentrux, registerExecPolicy } from "./src/plugin.ts";

export default defineChannelPluginEntry({
  id: MANIFEST.id,
  name: MANIFEST.name,
  description: MANIFEST.description,
  plugin: createChannelPlugin(),
  registerFull: registerAgentrux,
  registerCapabilities: registerExecPolicy,
});
