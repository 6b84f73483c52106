import { announceStatusService, createLogger, liveSlot, registerStatusMethod } from "@openclaw-bundle/shared";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import type { OAuthProfileCredential } from "./auth-files.ts";
import type { LeaseService } from "./lease-service.ts";
import { authManagerStatus, PLUGIN_ID, resolveAuthManager } from "./status.ts";

/** Stores the leased credential in the host's auth store, loaded only when a lease exists. */
async function writeAuthProfile(
  stateDir: string,
  profileId: string,
  credential: OAuthProfileCredential,
): Promise<boolean> {
  const { upsertAuthProfileWithLock } = await import("openclaw/plugin-sdk/provider-auth");
  const store = await upsertAuthProfileWithLock({ profileId, credential, stateDir });
  return store !== null;
}

export function registerAuthManager(api: OpenClawPluginApi): void {
  const logger = createLogger({ extension: PLUGIN_ID, sink: api.logger });
  const resolved = resolveAuthManager(api.pluginConfig);
  const slot = liveSlot<LeaseService>(PLUGIN_ID);
  const entry = (
    api.config as {
      plugins?: { entries?: Record<string, { hooks?: { allowConversationAccess?: boolean } }> };
    }
  ).plugins?.entries?.[PLUGIN_ID];
  // The host withholds llm_output (and so token usage) from non-bundled plugins without this grant.
  const usageVisible = entry?.hooks?.allowConversationAccess === true;
  const status = () => {
    const s = authManagerStatus(resolved, slot.get()?.snapshot);
    if (!usageVisible && resolved.ok) {
      s.telemetryWarning = `usage telemetry needs plugins.entries.${PLUGIN_ID}.hooks.allowConversationAccess: true`;
    }
    return s;
  };
  registerStatusMethod(api, PLUGIN_ID, status);
  api.registerService(announceStatusService(PLUGIN_ID, logger, status));
  if (!resolved.ok) return;
  const config = resolved.config as typeof resolved.config & { baseUrl: string; internalApiToken: string };

  // Counts stops, so that a start whose import was still loading when stop() came starts nothing.
  let stops = 0;
  api.registerService({
    id: `${PLUGIN_ID}-lease`,
    async start(ctx) {
      const stopsBefore = stops;
      // Loaded here, not at registration: the host also loads this module to discover what it
      // registers, and that load never starts a service (issue 17, "cheap registration").
      const { LeaseService } = await import("./lease-service.ts");
      if (stops !== stopsBefore) return;
      const service = new LeaseService({
        config,
        stateDir: ctx.stateDir,
        logger,
        writeProfile: (id, cred) => writeAuthProfile(ctx.stateDir, id, cred),
      });
      slot.set(service);
      service.start();
      if (!usageVisible)
        logger.warn(
          `token usage is not visible: set plugins.entries.${PLUGIN_ID}.hooks.allowConversationAccess to true`,
        );
    },
    async stop() {
      stops++;
      await slot.get()?.stop();
    },
  });
  api.on("llm_output", (event) => {
    slot.get()?.recordUsage(event.usage);
  });
}
