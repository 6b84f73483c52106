import type { Server } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import { createRendezvous } from "../pilot/rendezvous.ts";
import { bodyError, createRegistryApi, type RegistryApi } from "./registry-api.ts";
import type { RegistryState } from "./registry-state.ts";

/**
 * The mock Agent Registry of the test topology (the compose file's `mock-registry` service): the
 * registry API, its test-only control routes under `/_control/registry`, and the Pilot rendezvous
 * under `/_pilot` — the real registry host also serves Pilot's rendezvous, so one service does.
 */
export interface MockRegistryOptions {
  host?: string;
  port?: number;
  /** When set, every `/api/v1` call needs `X-Registry-Key: <apiKey>`. */
  apiKey?: string;
  /** An agent is offline this long after its last heartbeat (default 180000). */
  offlineAfterMs?: number;
}

export interface MockRegistry {
  url: string;
  port: number;
  state: RegistryState;
  /** Call counts and recorded requests, as the control routes report them. */
  api: RegistryApi;
  close(): Promise<void>;
}

export async function startMockRegistry(opts: MockRegistryOptions = {}): Promise<MockRegistry> {
  const host = opts.host ?? "127.0.0.1";
  const app = express();
  app.disable("x-powered-by");
  const api = createRegistryApi({ apiKey: opts.apiKey, offlineAfterMs: opts.offlineAfterMs });
  const rendezvous = createRendezvous();
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.use("/_control/registry", api.control);
  app.use("/_pilot", rendezvous.router);
  app.use(api.router);
  app.use((_req, res) => {
    res.status(404).json({ detail: "Not Found" });
  });
  // Express would answer an HTML page; every answer of this server is FastAPI-shaped JSON.
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    bodyError(res, err);
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    state: api.state,
    api,
    close() {
      // Idempotent: a test's afterAll and a signal handler may both close.
      closed ??= (async () => {
        api.shutdown();
        rendezvous.shutdown();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
}
