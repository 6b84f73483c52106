import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@openclaw-bundle/shared";
import type { ClawmatrixConfig } from "../config-schema.ts";
import type { MeshService } from "../service.ts";
import { A2A_MESH_CARD_PATH, A2A_MESH_PATH } from "./card.ts";
import type { EndpointDeps } from "./endpoint.ts";
import { a2aPeers, ConcurrencyLimit, RateLimiter } from "./peers.ts";

/**
 * Registers the mesh's A2A routes on the gateway's HTTP server. They authenticate themselves
 * (`auth: "plugin"`): A2A peers hold peer tokens, not the gateway's operator token.
 */

interface A2aRouteHost {
  config?: unknown;
  registerHttpRoute?(params: {
    path: string;
    auth: "plugin";
    match: "exact";
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  }): void;
}

/** The request's origin, from its Host header (the card's default, as the host's channel does). */
function requestOrigin(req: IncomingMessage): string {
  const tls = "encrypted" in req.socket && (req.socket as { encrypted?: boolean }).encrypted;
  try {
    return new URL(`${tls ? "https" : "http"}://${req.headers.host ?? "localhost"}`).origin;
  } catch {
    return `${tls ? "https" : "http"}://localhost`;
  }
}

/** The HTTP side and the SDK it runs on load at the first A2A request, not at registration. */
const endpoint = () => import("./endpoint.ts");

export function registerA2aRoutes(
  host: A2aRouteHost,
  config: ClawmatrixConfig["a2a"],
  live: () => MeshService | undefined,
  log: Logger,
): void {
  const deps: EndpointDeps = {
    peers: () => a2aPeers(host.config),
    rate: new RateLimiter(config.rateLimitPerMinute),
    concurrency: new ConcurrencyLimit(config.maxConcurrentPerPeer),
    serve: async () => {
      const s = live();
      if (s?.state !== "running" || !s.a2a) return { down: "the mesh is not running on this node" };
      const a2a = s.a2a;
      return { rpc: a2a.rpc, card: (origin) => a2a.card(origin) };
    },
    origin: (req) => config.advertisedUrl ?? requestOrigin(req),
    log,
  };
  host.registerHttpRoute?.({
    path: A2A_MESH_CARD_PATH,
    auth: "plugin",
    match: "exact",
    handler: async (req, res) => (await endpoint()).serveCard(req, res, deps),
  });
  host.registerHttpRoute?.({
    path: A2A_MESH_PATH,
    auth: "plugin",
    match: "exact",
    handler: async (req, res) => (await endpoint()).serveRpc(req, res, deps),
  });
}
