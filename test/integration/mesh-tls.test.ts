import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type GatewayProcess, runRoot, startGateways, stopGateways } from "../harness/gateway.ts";
import { freePort } from "../harness/ports.ts";
import { entrypointSpec } from "../harness/topology.ts";
import { waitFor } from "../harness/wait.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";

// The mesh over TLS as a container user sets it up: env only, through entrypoint.sh. node-a
// serves a self-signed certificate (CLAWMATRIX_TLS_SELF_SIGNED) and tells its pin in its status;
// node-b dials it as wss:// with that pin in CLAWMATRIX_PEERS and uses node-a's model through the
// link. Until the config patch owned the TLS keys, these variables never reached openclaw.json.

interface MeshStatus {
  state: string;
  tlsPin?: string;
  counters: { served: number };
  peers: Array<{ nodeId: string; status: string }>;
}

const SECRET = "tls-mesh-secret-0123456789abcdef";
const root = runRoot();
let llm: MockLlm;
let a: GatewayProcess;
let b: GatewayProcess;
let meshPort = 0;
let pin = "";

async function gateway(name: string, env: Record<string, string>): Promise<GatewayProcess> {
  const base = {
    OPENCLAW_GATEWAY_TOKEN: `${name}-token-0123456789abcdef`,
    OPENCLAW_GATEWAY_PORT: String(await freePort()),
    OPENCLAW_GATEWAY_BIND: "loopback",
    CLAWMATRIX_SECRET: SECRET,
    CLAWMATRIX_NODE_ID: name,
    CLAWMATRIX_PROXY_PORT: String(await freePort()),
    CLAWMATRIX_LISTEN_HOST: "127.0.0.1",
  };
  const [g] = await startGateways([entrypointSpec(name, { ...base, ...env }, root)], root);
  return g as GatewayProcess;
}

const meshOf = (g: GatewayProcess) =>
  waitFor(
    `${g.name}: mesh running`,
    () => g.call<MeshStatus>("clawmatrix.status"),
    (s) => s.state === "running",
  );

beforeAll(async () => {
  llm = await startMockLlm({ name: "mock-llm", models: ["mock-model"] });
  meshPort = await freePort();
  a = await gateway("node-a", {
    CLAWMATRIX_LISTEN: "true",
    CLAWMATRIX_LISTEN_PORT: String(meshPort),
    CLAWMATRIX_TLS_SELF_SIGNED: "true",
    OPENCLAW_LLM_BASE_URL: llm.url,
    OPENCLAW_LLM_MODEL: "mock-model",
    CLAWMATRIX_MODELS: '[{"id":"mock-model","provider":"bundle-llm"}]',
  });
  pin = (await meshOf(a)).tlsPin ?? "";
  b = await gateway("node-b", {
    CLAWMATRIX_PEERS: `node-a=wss://127.0.0.1:${meshPort}${pin}`,
    CLAWMATRIX_PROXY_MODELS: '[{"id":"mock-model","nodeId":"node-a"}]',
  });
}, 300_000);

afterAll(async () => {
  await stopGateways([b, a].filter(Boolean));
  await llm?.close();
});

describe("mesh over TLS from env", () => {
  it("serves node-a's mesh with a self-signed certificate kept in its state, and gives its pin", async () => {
    const config = JSON.parse(readFileSync(a.configPath, "utf8")) as {
      plugins: { entries: { clawmatrix: { config: { tls?: unknown } } } };
    };
    expect(config.plugins.entries.clawmatrix.config.tls).toEqual({ selfSigned: true });
    const cert = new X509Certificate(readFileSync(path.join(a.stateDir, "clawmatrix", "tls-cert.pem")));
    expect(pin).toBe(`#sha256=${createHash("sha256").update(cert.raw).digest("hex")}`);
    expect(readFileSync(a.logFile, "utf8")).toContain(pin.slice(1));
  });

  it("links node-b over wss:// by the pin alone and answers with node-a's model through it", async () => {
    const st = await waitFor(
      "node-b linked to node-a",
      () => b.call<MeshStatus>("clawmatrix.status"),
      (s) => s.peers.some((p) => p.nodeId === "node-a" && p.status === "direct"),
    );
    expect(st.state).toBe("running");
    const before = llm.requests.length;
    const res = await b.post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "tls-probe" }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]?.message.content).toContain("tls-probe");
    expect(llm.requests.length).toBeGreaterThan(before);
    expect((await a.call<MeshStatus>("clawmatrix.status")).counters.served).toBeGreaterThan(0);
  });

  it("gives a plaintext ws:// client no mesh on the TLS port", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${meshPort}`, { handshakeTimeout: 5000 });
      ws.once("open", () => resolve("open"));
      ws.once("error", (err) => resolve(`error: ${err.message}`));
    });
    expect(outcome).toMatch(/^error: /);
  });

  it("keeps node-a's certificate across a restart, so node-b's pin still holds and it links again", async () => {
    await a.stop();
    await a.start();
    expect((await meshOf(a)).tlsPin).toBe(pin);
    await waitFor(
      "node-b linked to node-a again",
      () => b.call<MeshStatus>("clawmatrix.status"),
      (s) => s.peers.some((p) => p.nodeId === "node-a" && p.status === "direct"),
    );
  });
});
