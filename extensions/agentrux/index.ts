import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { MANIFEST } from "./src/manifest.ts";
import { registerAgentrux } from "./src/plugin.ts";

export default definePluginEntry({
  id: MANIFEST.id,
  name: MANIFEST.name,
  description: MANIFEST.description,
  register: registerAgentrux,
});
