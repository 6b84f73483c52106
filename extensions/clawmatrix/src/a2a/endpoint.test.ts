import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type Artifact, type Message, Role, type SendMessageRequest, TaskState } from "@a2a-js/sdk";
import { DefaultRequestHandler, JsonRpcTransportHandler } from "@a2a-js/sdk/server";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { a2aClient } from "../../../../test/harness/a2a-client.ts";
import { A2A_MESH_CARD_PATH, A2A_MESH_PATH, meshCard } from "./card.ts";
import { type EndpointDeps, MAX_BODY_BYTES, serveCard, serveRpc } from "./endpoint.ts";
import { type HandoffRoute, MeshAgentExecutor } from "./executor.ts";
import { textMessage, textOfParts } from "./parts.ts";
import { ConcurrencyLimit, RateLimiter } from "./peers.ts";
import { PersistentTaskStore } from "./task-store.ts";

// The mesh A2A endpoint driven by the official A2A SDK's client (@a2a-js/sdk), over real HTTP on
// loopback, with the mesh behind a fake route (the gateway tests run it through a real mesh).

const TOKEN = "outsider-token-0123456789abcdef";
const OTHER = "another-peer-token-0123456789ab";
const quiet = createLogger({ extension: "test", sink: { info() {}, warn() {}, error() {}, debug() {} } });

/** node-b serves "helper"; "long" tasks stream until aborted, and say when they were. */
class FakeMesh implements HandoffRoute {
  aborted: string[] = [];
  tasks: Array<{ agent?: string; task: string }> = [];
  candidates = (target: string) => (target === "helper" || target === "node-b" ? ["node-b"] : []);
  isNode = (target: string) => target === "node-b";
  handoff = async (
    _nodes: string[],
    body: { agent?: string; task: string },
    opts: { signal: AbortSignal; onChunk(t: string): void },
  ) => {
    this.tasks.push(body);
    if (body.task.includes("long")) {
      while (!opts.signal.aborted) {
        opts.onChunk("tick ");
        await new Promise((r) => setTimeout(r, 20));
      }
      this.aborted.push(body.task);
      throw new Error("aborted");
    }
    for (const w of ["hello ", "from ", "node-b"]) opts.onChunk(w);
    return { node: "node-b" };
  };
}

let server: Server;
let base: string;
let mesh: FakeMesh;
let stateDir: string;

function deps(store: PersistentTaskStore, over: Partial<EndpointDeps> = {}): EndpointDeps {
  const card = (origin: string) =>
    meshCard({
      selfId: "node-a",
      origin,
      version: "0.1.0",
      nodes: [{ nodeId: "node-b", tags: ["gpu"], agents: [{ id: "helper", tags: ["review"] }] }],
    });
  const handler = new DefaultRequestHandler(
    card("http://127.0.0.1"),
    store,
    new MeshAgentExecutor({ route: mesh, defaultAgent: undefined }),
  );
  const rpc = new JsonRpcTransportHandler(handler);
  return {
    peers: () => [
      { name: "outsider", token: Buffer.from(TOKEN) },
      { name: "other", token: Buffer.from(OTHER) },
    ],
    rate: new RateLimiter(0),
    concurrency: new ConcurrencyLimit(8),
    serve: async () => ({ rpc, card }),
    origin: () => base,
    log: quiet,
    ...over,
  };
}

async function listen(d: EndpointDeps): Promise<void> {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === A2A_MESH_CARD_PATH) void serveCard(req, res, d);
    else if (url.pathname === A2A_MESH_PATH) void serveRpc(req, res, d);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const client = (token = TOKEN) => a2aClient(base, A2A_MESH_CARD_PATH, token);

function request(text: string, agent?: string): SendMessageRequest {
  const message = textMessage(Role.ROLE_USER, text, {}, agent ? { agent } : undefined);
  return { tenant: "", message, configuration: undefined, metadata: undefined };
}

const textOf = (artifacts: readonly Artifact[]) => artifacts.map((a) => textOfParts(a.parts)).join("");

beforeEach(async () => {
  mesh = new FakeMesh();
  stateDir = mkdtempSync(path.join(os.tmpdir(), "a2a-endpoint-"));
  await listen(deps(new PersistentTaskStore({ stateDir, maxTasks: 100, log: quiet })));
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("the mesh A2A endpoint, driven by the official A2A SDK", () => {
  it("lists the mesh's agents in the card and answers SendMessage with the remote agent's output", async () => {
    const c = await client();
    const card = await c.getAgentCard();
    expect(card.skills.map((s) => s.id)).toEqual(["helper"]);
    expect(card.skills[0]?.tags).toEqual(["gpu", "review", "node:node-b"]);
    const r = await c.sendMessage(request("summarise this", "helper"));
    expect("status" in r && r.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect("artifacts" in r && textOf(r.artifacts)).toBe("hello from node-b");
    expect(mesh.tasks).toEqual([{ agent: "helper", task: "summarise this" }]);
  });

  it("streams the remote agent's chunks as they come, then the final state", async () => {
    const c = await client();
    const seen: string[] = [];
    for await (const e of c.sendMessageStream(request("stream it", "helper"))) {
      const p = e.payload;
      if (p?.$case === "artifactUpdate") seen.push(textOf(p.value.artifact ? [p.value.artifact] : []));
      if (p?.$case === "statusUpdate") seen.push(`[${TaskState[p.value.status?.state ?? 0]}]`);
    }
    expect(seen).toEqual(["[TASK_STATE_WORKING]", "hello ", "from ", "node-b", "[TASK_STATE_COMPLETED]"]);
  });

  it("cancels a running task: the handoff is aborted and the task ends canceled", async () => {
    const c = await client();
    const stream = c.sendMessageStream(request("a long one", "helper"));
    let taskId = "";
    for await (const e of stream) {
      if (e.payload?.$case === "task") taskId = e.payload.value.id;
      if (e.payload?.$case === "artifactUpdate") break; // it runs: now cancel it
    }
    const canceled = await c.cancelTask({ tenant: "", id: taskId, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await expect.poll(() => mesh.aborted).toEqual(["a long one"]);
    const later = await c.getTask({ tenant: "", id: taskId, historyLength: undefined });
    expect(later.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  it("keeps one peer's tasks from another and lists a peer's own", async () => {
    const mine = await client();
    const r = await mine.sendMessage(request("mine", "helper"));
    const id = (r as { id: string }).id;
    const theirs = await client(OTHER);
    await expect(theirs.getTask({ tenant: "", id, historyLength: undefined })).rejects.toThrow(/not found/i);
    const listed = await mine.listTasks({
      tenant: "",
      contextId: "",
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageToken: "",
      statusTimestampAfter: undefined,
    });
    expect(listed.tasks.map((t) => t.id)).toEqual([id]);
    const none = await theirs.listTasks({
      tenant: "",
      contextId: "",
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageToken: "",
      statusTimestampAfter: undefined,
    });
    expect(none.tasks).toEqual([]);
  });

  it("rejects slash commands, unknown agents and unnamed agents without a handoff", async () => {
    const c = await client();
    for (const [text, agent, why] of [
      ["/reset", "helper", "slash commands"],
      ["hi", "nobody", 'no other node of the mesh serves "nobody"'],
      ["hi", undefined, "name the agent in message.metadata.agent"],
    ] as const) {
      const r = (await c.sendMessage(request(text, agent))) as {
        status?: { state: number; message?: Message };
      };
      expect(r.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
      const said = r.status?.message?.parts
        .map((p) => (p.content?.$case === "text" ? p.content.value : ""))
        .join("");
      expect(said).toContain(why);
    }
    expect(mesh.tasks).toEqual([]);
  });
});

describe("the mesh A2A endpoint's HTTP edge", () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${A2A_MESH_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}`, ...headers },
      body,
    });

  it("refuses a missing or wrong token with 401, and the card too", async () => {
    expect((await post("{}", { authorization: "Bearer nope-nope-nope-nope" })).status).toBe(401);
    expect((await post("{}", { authorization: "" })).status).toBe(401);
    expect((await fetch(`${base}${A2A_MESH_CARD_PATH}`)).status).toBe(401);
  });

  it("answers malformed JSON, a batch, an unknown method and an oversized body with JSON-RPC errors", async () => {
    expect(await (await post("{not json")).json()).toMatchObject({ error: { code: -32700 } });
    expect(await (await post("[]")).json()).toMatchObject({ error: { code: -32600 } });
    const unknown = await (
      await post(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "DanceTask", params: {} }))
    ).json();
    expect(unknown).toMatchObject({ id: 7, error: { code: -32601 } });
    const big = await post(JSON.stringify({ pad: "x".repeat(MAX_BODY_BYTES) }));
    expect(big.status).toBe(413);
    const missing = await (
      await post(JSON.stringify({ jsonrpc: "2.0", id: 8, method: "GetTask", params: { id: "nope" } }))
    ).json();
    expect(missing).toMatchObject({ id: 8, error: { code: -32001 } });
    expect(mesh.tasks).toEqual([]);
  });

  async function restart(over: Partial<EndpointDeps>) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await listen(deps(new PersistentTaskStore({ stateDir, maxTasks: 100, log: quiet }), over));
  }
  const get = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "GetTask", params: { id: "x" } });

  it("holds each peer to its own rate limit", async () => {
    await restart({ rate: new RateLimiter(2) });
    await post(get);
    await post(get);
    expect(await (await post(get)).json()).toMatchObject({ error: { code: -32000, message: /rate limit/ } });
    // The other peer has its own window.
    expect(await (await post(get, { authorization: `Bearer ${OTHER}` })).json()).toMatchObject({
      error: { code: -32001 },
    });
  });

  it("holds a peer to its concurrency limit while its stream runs, and frees the slot after", async () => {
    await restart({ concurrency: new ConcurrencyLimit(1) });
    const c = await client();
    const running = c.sendMessageStream(request("a long one", "helper"));
    const first = await running.next(); // the stream is open: the peer's one slot is taken
    const taskId = first.value?.payload?.$case === "task" ? first.value.payload.value.id : "";
    expect(taskId).not.toBe("");
    const refused = await (await post(get)).json();
    expect(refused).toMatchObject({ error: { code: -32000, message: /already has 1 requests running/ } });
    await running.return(undefined); // the client goes away; the task itself runs on
    await expect
      .poll(async () => ((await (await post(get)).json()) as { error: { code: number } }).error.code)
      .toBe(-32001);
    const canceled = await c.cancelTask({ tenant: "", id: taskId, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });
});
