import { mkdirSync } from "node:fs";
import path from "node:path";
import { GatewayClient } from "openclaw/plugin-sdk/gateway-runtime";
import { budget } from "./wait.ts";

/** A quiet machine's connect time, with room; scaled by the load when a connect starts. */
const RPC_CONNECT_MS = 30_000;
const SCOPES = ["operator.admin", "operator.read", "operator.write"];

/**
 * One authenticated WebSocket RPC connection to a gateway, through OpenClaw's own client (device
 * identity + token; loopback pairing is auto-approved). A CLI call costs 2-4 s; this costs one
 * round trip once connected.
 */
export class GatewayRpc {
  private client: GatewayClient | undefined;
  private ready: Promise<void> | undefined;
  private readonly url: string;
  private readonly token: string;
  private readonly home: string;

  constructor(url: string, token: string, home: string) {
    this.url = url;
    this.token = token;
    this.home = home;
  }

  private connect(): Promise<void> {
    if (this.ready) return this.ready;
    mkdirSync(this.home, { recursive: true });
    // The client keeps its device identity under its own HOME/state dir, never the gateway's.
    const env = { ...process.env, HOME: this.home, OPENCLAW_STATE_DIR: path.join(this.home, "state") };
    this.ready = new Promise<void>((resolve, reject) => {
      const ms = budget(RPC_CONNECT_MS);
      const timer = setTimeout(() => {
        reject(new Error(`RPC connect to ${this.url} timed out after ${Math.round(ms / 1000)} s`));
        // The next call connects afresh: this attempt must not keep retrying behind it.
        void this.close();
      }, ms);
      this.client = new GatewayClient({
        url: this.url,
        token: this.token,
        env,
        clientName: "cli",
        mode: "cli",
        role: "operator",
        scopes: SCOPES,
        onHelloOk: () => {
          clearTimeout(timer);
          resolve();
        },
        onConnectError: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.client.start();
    });
    this.ready.catch(() => {
      this.ready = undefined;
    });
    return this.ready;
  }

  async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    await this.connect();
    if (!this.client) throw new Error("RPC client missing after connect");
    return this.client.request<T>(method, params);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.ready = undefined;
    if (c) await c.stopAndWait({ timeoutMs: 2000 }).catch(() => undefined);
  }
}
