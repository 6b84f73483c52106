import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { type MockLlm, startMockLlm } from "../../../test/mocks/llm/server.ts";
import { clawmatrixConfig } from "./config-schema.ts";
import { MeshService } from "./service.ts";

// The mesh service as the gateway starts it: a real node and model proxy on loopback. node-b
// serves "mock-model" through its OpenAI-compatible provider (the mock LLM); node-a's proxy asks.

const SECRET = "service-secret-0123456789abcdef";
const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const opened: Array<{ stop(): Promise<void> }> = [];
let llm: MockLlm | undefined;
afterEach(async () => {
  for (const s of opened.splice(0).reverse()) await s.stop();
  await llm?.close();
  llm = undefined;
});

const service = (
  nodeId: string,
  extra: Record<string, unknown> = {},
  hostConfig: () => unknown = () => ({}),
) => {
  const config = clawmatrixConfig.schema.parse({ nodeId, secret: SECRET, listenHost: "127.0.0.1", ...extra });
  const ports = { listenPort: Number(extra.listenPort ?? 0), proxyPort: Number(extra.proxyPort ?? 0) };
  const s = new MeshService(
    { ...config, ...ports, nodeId, secret: SECRET },
    hostConfig,
    quiet,
    mkdtempSync(path.join(tmpdir(), "clawmatrix-state-")),
  );
  opened.push(s);
  return s;
};

/** A port something else holds until the test ends. */
async function busyPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  opened.push({ stop: () => new Promise((r) => server.close(() => r())) });
  return (server.address() as net.AddressInfo).port;
}

const chat = (proxyPort: number | undefined, body: Record<string, unknown>) =>
  fetch(`http://127.0.0.1:${proxyPort}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
  });

describe("mesh service", () => {
  it("starts the node and its model proxy, and stops both, twice without harm", async () => {
    const s = service("node-a", { listen: true });
    expect(s.state).toBe("starting");
    await s.start();
    expect(s.state).toBe("running");
    expect(s.error).toBeUndefined();
    expect(s.node.listenPort).toEqual(expect.any(Number));
    const models = await fetch(`http://127.0.0.1:${s.proxy.port}/v1/models`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    expect(await models.json()).toEqual({ object: "list", data: [] });
    await s.stop();
    await s.stop();
    expect(s.state).toBe("stopped");
    await expect(fetch(`http://127.0.0.1:${s.proxy.port}/v1/models`)).rejects.toThrow();
  });

  it("serves its models to the mesh through the local provider, streamed or not", async () => {
    llm = await startMockLlm({ apiKey: "llm-key" });
    const providers = { llm: { baseUrl: llm.url, apiKey: "wrong-key" } };
    const a = service("node-a", { listen: true });
    await a.start();
    const b = service(
      "node-b",
      {
        peers: [{ nodeId: "node-a", url: `ws://127.0.0.1:${a.node.listenPort}` }],
        models: [{ id: "mock-model", provider: "llm" }],
      },
      () => ({ models: { providers } }),
    );
    await b.start();
    await expect
      .poll(() => a.node.table.modelCandidates("mock-model"), { timeout: 5000 })
      .toEqual(["node-b"]);

    // The host config is read per request: a key fixed in it is used without a restart.
    const refused = await chat(a.proxy.port, { model: "mock-model" });
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /^node-b: the local gateway answered \/chat\/completions with 401: .*invalid or missing API key/,
    );
    providers.llm.apiKey = "llm-key";
    const answer = (await (await chat(a.proxy.port, { model: "node-b/mock-model" })).json()) as {
      model: string;
      choices: Array<{ message: { content: string } }>;
    };
    expect(answer.model).toBe("mock-model");
    expect(answer.choices[0]?.message.content).toBe("[mock-llm] mock-model reply #1: hi");

    const streamed = await chat(a.proxy.port, { model: "mock-model", stream: true });
    expect(streamed.headers.get("content-type")).toBe("text/event-stream");
    const events = (await streamed.text()).split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const text = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.replace(/^data: /, "")).choices[0]?.delta?.content ?? "")
      .join("");
    expect(text).toBe("[mock-llm] mock-model reply #2: hi");
    expect(llm.requests.map((r) => [r.model, r.stream, r.status])).toEqual([
      ["mock-model", false, 401],
      ["mock-model", false, 200],
      ["mock-model", true, 200],
    ]);
  });

  it("reports a failed start as state error, closes what it opened, and rethrows", async () => {
    const held = await busyPort();
    const s = service("node-a", { listen: true, proxyPort: held });
    await expect(s.start()).rejects.toMatchObject({ code: "EADDRINUSE" });
    expect(s.state).toBe("error");
    expect(s.error).toMatch(/EADDRINUSE/);
    // The mesh listener that did start is closed again: its port takes a new server.
    const port = s.node.listenPort as number;
    const again = net.createServer();
    await new Promise<void>((resolve, reject) => {
      again.once("error", reject);
      again.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((r) => again.close(r));
    await s.stop();
    expect(s.state).toBe("error");
  });
});
