import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { MANIFEST } from "./src/manifest.ts";
import { registerClawmatrix } from "./src/plugin.ts";

export default definePluginEntry({
  id: MANIFEST.id,
  name: MANIFEST.name,
  description: MANIFEST.description,
  register: registerClawmatrix,
});
