import {
  announceStatusService,
  createLogger,
  liveSlot,
  registerMetricsRoute,
  registerStatusMethod,
} from "@openclaw-bundle/shared";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { registerA2aRoutes } from "./a2a/routes.ts";
import { registerClawmatrixCli } from "./cli.ts";
import { bindMeshNode } from "./metrics.ts";
import type { MeshService } from "./service.ts";
import { clawmatrixStatus, PLUGIN_ID, resolveClawmatrix } from "./status.ts";
import { createTools } from "./tools.ts";
import { type GraphRead, meshGraph, registerTopologyRoutes } from "./topology/routes.ts";

export function registerClawmatrix(api: OpenClawPluginApi): void {
  const logger = createLogger({ extension: PLUGIN_ID, sink: api.logger });
  const resolved = resolveClawmatrix(api.pluginConfig);
  const slot = liveSlot<MeshService>(PLUGIN_ID);
  const status = () => clawmatrixStatus(resolved, slot.get());
  registerStatusMethod(api, PLUGIN_ID, status);
  registerClawmatrixCli(api);
  // The bundle's one scrape route (every extension's metrics share one registry per process).
  registerMetricsRoute(api);
  bindMeshNode(() => (slot.get()?.state === "running" ? slot.get()?.node : undefined));
  const graph: GraphRead = () => {
    const s = slot.get();
    if (s?.state !== "running")
      return { unavailable: `the mesh is not running on this node${s?.error ? ` (${s.error})` : ""}` };
    return { graph: meshGraph(s.node, status().state) };
  };
  registerTopologyRoutes(api, graph);
  api.registerGatewayMethod(`${PLUGIN_ID}.topology`, ({ respond }) => {
    const r = graph();
    if ("unavailable" in r) respond(false, undefined, { code: "UNAVAILABLE", message: r.unavailable });
    else respond(true, r.graph);
  });
  api.registerService(announceStatusService(PLUGIN_ID, logger, status));
  api.registerGatewayMethod(`${PLUGIN_ID}.peers`, ({ respond }) => {
    const s = slot.get();
    // A mesh that failed to start (or stopped) knows no peers: say so, and why when it failed.
    if (s?.state !== "running")
      return respond(false, undefined, {
        code: "UNAVAILABLE",
        message: `the mesh is not running on this node${s?.error ? ` (${s.error})` : ""}`,
      });
    respond(true, s.node.status());
  });
  if (!resolved.ok) return;
  const config = resolved.config as typeof resolved.config & { nodeId: string; secret: string };
  for (const tool of createTools(
    () => slot.get(),
    () => api.config,
  ))
    api.registerTool(tool, { name: tool.name });
  if (config.a2a.enabled) registerA2aRoutes(api, config.a2a, () => slot.get(), logger);

  // Counts stops, so that a start whose import was still loading when stop() came starts nothing.
  let stops = 0;
  api.registerService({
    id: `${PLUGIN_ID}-mesh`,
    async start(ctx) {
      const stopsBefore = stops;
      await slot.get()?.stop();
      // Loaded here, not at registration: the host also loads this module to discover what it
      // registers, and that load never starts a service (issue 17, "cheap registration").
      const { MeshService } = await import("./service.ts");
      if (stops !== stopsBefore) return;
      // The state volume keeps the node's identity key and its peers' pinned keys (PROTOCOL §3b).
      const service = new MeshService(config, () => api.config, logger, ctx.stateDir);
      slot.set(service);
      try {
        await service.start();
        logger.info(`mesh node ${config.nodeId} up`);
      } catch (err) {
        logger.error(`mesh failed to start: ${(err as Error).message}`);
      }
    },
    async stop() {
      stops++;
      await slot.get()?.stop();
    },
  });
}
