import type { Server } from "node:http";
import express from "express";
import { type AgentruxApi, type AgentruxApiOptions, createAgentruxApi } from "./agentrux-api.ts";
import { createLeaseApi, type LeaseApi, type LeaseApiOptions } from "./lease-api.ts";

/**
 * The mock broker of the test topology: the AgenTrux pub/sub API and the Auth Manager lease API
 * in one express server, each in its own module (its own router and test-only control router
 * under `/_control/<api>`), as the compose file's `mock-broker` service.
 */
export interface MockBrokerOptions {
  host?: string;
  port?: number;
  agentrux?: AgentruxApiOptions;
  lease?: LeaseApiOptions;
}

export interface MockBroker {
  url: string;
  port: number;
  agentrux: AgentruxApi;
  lease: LeaseApi;
  close(): Promise<void>;
}

export async function startMockBroker(opts: MockBrokerOptions = {}): Promise<MockBroker> {
  const host = opts.host ?? "127.0.0.1";
  const app = express();
  app.disable("x-powered-by");
  let baseUrl = "";
  const publicUrl = () => baseUrl;
  const agentrux = createAgentruxApi(opts.agentrux ?? {}, publicUrl);
  const lease = createLeaseApi(opts.lease ?? {}, publicUrl);
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.use("/_control/agentrux", agentrux.control);
  app.use("/_control/lease", lease.control);
  app.use(agentrux.router);
  app.use(lease.router);
  app.use((req, res) => {
    res.status(404).json({ detail: `no route ${req.method} ${req.path}` });
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port ?? 0, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  baseUrl = `http://${host}:${port}`;
  return {
    url: baseUrl,
    port,
    agentrux,
    lease,
    async close() {
      agentrux.shutdown();
      lease.shutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A broker with one AgenTrux script that reads `cmd` and writes `res`: the usual test setup. */
export async function startBrokerWithScript(): Promise<{
  broker: MockBroker;
  script: { id: string; secret: string };
}> {
  const broker = await startMockBroker();
  const script = broker.agentrux.book.createScript([
    { topic_id: "cmd", action: "read" },
    { topic_id: "res", action: "write" },
  ]);
  return { broker, script };
}

/** Topic ids of the live generation (`top_<uuid>`), as the broker of a live-mode test uses them. */
export const LIVE_TOPICS = {
  command: "top_0b7c3c1e-5f6a-4d2b-9c1e-7a1f00000c01",
  result: "top_0b7c3c1e-5f6a-4d2b-9c1e-7a1f00000e02",
} as const;

/** A broker and a script on live topics: read the command topic, read and write the result topic. */
export async function startBrokerWithLiveScript(): Promise<{
  broker: MockBroker;
  script: { id: string; secret: string; clientId: string };
}> {
  const broker = await startMockBroker();
  const s = broker.agentrux.book.createScript([
    { topic_id: LIVE_TOPICS.command, action: "read" },
    { topic_id: LIVE_TOPICS.result, action: "write" },
    { topic_id: LIVE_TOPICS.result, action: "read" },
  ]);
  return { broker, script: { id: s.id, secret: s.secret, clientId: s.clientId } };
}
