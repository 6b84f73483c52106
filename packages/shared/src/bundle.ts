/**
 * The bundle's extensions, in load order: each plugin's id and its folder under `extensions/`.
 * The one list the entrypoint's config step, the manifest generator and the image's HEALTHCHECK
 * read. Each id is owned by its extension's `src/manifest.ts`; `npm run manifests:check` and
 * bundle.test.ts (against every shipped openclaw.plugin.json) hold the two equal.
 * This module imports nothing, so the HEALTHCHECK (plain `node`, every few seconds) loads it cheaply.
 */
export const BUNDLE_EXTENSIONS = [
  { id: "clawmatrix", folder: "clawmatrix" },
  { id: "agentrux-openclaw-plugin", folder: "agentrux" },
  { id: "agent-registry", folder: "agent-registry" },
  { id: "auth-manager-lease-telemetry", folder: "auth-manager" },
] as const;

export type BundleExtensionId = (typeof BUNDLE_EXTENSIONS)[number]["id"];

/** Path of the unauthenticated health probe of an extension: state only, no details. */
export const healthPath = (id: string) => `/bundle/health/${id}`;
