import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { DefaultRequestHandler, JsonRpcTransportHandler } from "@a2a-js/sdk/server";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { meshCard } from "./card.ts";
import { serveRpc } from "./endpoint.ts";
import { MeshAgentExecutor } from "./executor.ts";
import { a2aHandoff, outboundPeer } from "./outbound.ts";
import { ConcurrencyLimit, RateLimiter } from "./peers.ts";
import { PersistentTaskStore } from "./task-store.ts";

// `cluster_handoff` to `a2a:<peer>` against real A2A servers on loopback: the mesh endpoint
// (which streams), and one that, like the host's own channel, answers SendMessage only.

const TOKEN = "we-send-this-token-0123456789";
const quiet = createLogger({ extension: "test", sink: { info() {}, warn() {}, error() {}, debug() {} } });
const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/rpc`;
}

/** Our own mesh endpoint as the outside agent: its "helper" streams three chunks. */
async function streamingPeer(seenAuth: string[]): Promise<string> {
  const route = {
    candidates: () => ["far"],
    isNode: () => false,
    handoff: async (_n: string[], _b: unknown, o: { onChunk(t: string): void }) => {
      for (const w of ["one ", "two ", "three"]) o.onChunk(w);
      return { node: "far" };
    },
  };
  const card = (origin: string) => meshCard({ selfId: "x", origin, version: "1", nodes: [] });
  const rpc = new JsonRpcTransportHandler(
    new DefaultRequestHandler(
      card("http://127.0.0.1"),
      new PersistentTaskStore({
        stateDir: mkdtempSync(path.join(os.tmpdir(), "a2a-out-")),
        maxTasks: 10,
        log: quiet,
      }),
      new MeshAgentExecutor({ route, defaultAgent: "helper" }),
    ),
  );
  return listen((req, res) => {
    seenAuth.push(String(req.headers.authorization));
    void serveRpc(req, res, {
      peers: () => [{ name: "us", token: Buffer.from(TOKEN) }],
      rate: new RateLimiter(0),
      concurrency: new ConcurrencyLimit(4),
      serve: async () => ({ rpc, card }),
      origin: () => "http://127.0.0.1",
      log: quiet,
    });
  });
}

describe("a2aHandoff", () => {
  it("streams a streaming peer's answer chunk by chunk, with the peer's outbound token", async () => {
    const auth: string[] = [];
    const url = await streamingPeer(auth);
    const chunks: string[] = [];
    const out = await a2aHandoff({
      peer: { url, token: TOKEN },
      name: "far",
      task: "go",
      onChunk: (t) => chunks.push(t),
    });
    expect(out).toBe("one two three");
    expect(chunks).toEqual(["one ", "two ", "three"]);
    expect(auth.every((a) => a === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("fails with the peer's refusal when the token is wrong", async () => {
    const url = await streamingPeer([]);
    await expect(
      a2aHandoff({ peer: { url, token: "not-our-token-0123456789" }, name: "far", task: "go", onChunk() {} }),
    ).rejects.toThrow(/A2A peer "far"/);
  });

  it("asks a peer that does not stream once, with SendMessage", async () => {
    const methods: string[] = [];
    const url = await listen((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const j = JSON.parse(body) as { id: unknown; method: string };
        methods.push(j.method);
        res.setHeader("content-type", "application/json");
        if (j.method !== "SendMessage")
          return res.end(
            JSON.stringify({
              jsonrpc: "2.0",
              id: j.id,
              error: { code: -32601, message: "Method not found" },
            }),
          );
        res.end(
          JSON.stringify({
            jsonrpc: "2.0",
            id: j.id,
            result: {
              task: {
                id: "t1",
                contextId: "c1",
                status: { state: "TASK_STATE_COMPLETED", timestamp: new Date().toISOString() },
                artifacts: [{ artifactId: "a1", parts: [{ text: "whole answer" }] }],
                history: [],
              },
            },
          }),
        );
      });
    });
    const chunks: string[] = [];
    const out = await a2aHandoff({
      peer: { url, token: TOKEN },
      name: "plain",
      task: "go",
      onChunk: (t) => chunks.push(t),
    });
    expect(out).toBe("whole answer");
    expect(methods).toEqual(["SendStreamingMessage", "SendMessage"]);
  });
});

describe("outboundPeer", () => {
  const host = {
    channels: {
      a2a: {
        peers: {
          far: { token: "${IN}", url: "https://far.example/a2a/v1", outboundToken: "${OUT}" },
          inbound: { token: "${IN}" },
        },
      },
    },
  };
  it("finds a peer's URL and resolves its outbound token; names what is missing", () => {
    expect(outboundPeer(host, "far", { OUT: "their-token" })).toEqual({
      url: "https://far.example/a2a/v1",
      token: "their-token",
    });
    expect(() => outboundPeer(host, "inbound", {})).toThrow('A2A peer "inbound" has no URL to send to');
    expect(() => outboundPeer(host, "nobody", {})).toThrow('no A2A peer named "nobody"');
    expect(() => outboundPeer(host, "__proto__", {})).toThrow('no A2A peer named "__proto__"');
  });
});
