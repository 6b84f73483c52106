import { mkdtempSync, realpathSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, type ToolResult } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { clawmatrixConfig } from "./config-schema.ts";
import { MeshService } from "./service.ts";
import { TOOL_NAMES } from "./tool-names.ts";
import { createTools } from "./tools.ts";

// The mesh tools on node-a, run against node-b over a real mesh; node-b's own gateway (the only
// fake) answers agent turns and tool calls over its loopback HTTP API.

const SECRET = "tools-secret-0123456789abcdef";
const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });

interface Seen {
  path: string;
  auth: string | undefined;
  body: {
    model?: string;
    stream?: boolean;
    user?: string;
    tool?: string;
    args?: unknown;
    messages?: unknown;
  };
}
const seen: Seen[] = [];
let gateway: Server;
// node-b's workspace: the only place its file tools reach (PROTOCOL §7).
const workspace = realpathSync(mkdtempSync(path.join(tmpdir(), "clawmatrix-ws-")));
let a: MeshService;
let b: MeshService;

const sse = (content: string) => `data: ${JSON.stringify({ choices: [{ delta: { content } }] })}\n\n`;

/** node-b's gateway: a turn answers "<model> did: <task>" in two SSE events; tools echo, or misbehave. */
function startGateway(): Promise<Server> {
  const server = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const p of req as AsyncIterable<Buffer>) parts.push(p);
    const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as Seen["body"];
    seen.push({ path: req.url ?? "", auth: req.headers.authorization, body });
    const json = (status: number, out: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(out));
    if (req.url === "/tools/invoke") {
      if (body.tool === "fail") return void res.writeHead(500).end("tool crashed");
      return json(200, body.tool === "big" ? "x".repeat(5000) : { ran: body.tool, args: body.args });
    }
    const content = (body.messages as Array<{ content: string }>).at(-1)?.content ?? "";
    if (!body.stream) return json(200, { choices: [{ message: { role: "assistant", content: "ok" } }] });
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (!content.startsWith("silent"))
      res.write(sse(`${body.model} did: `) + sse(content.split("\n")[0] ?? ""));
    res.end("data: [DONE]\n\n");
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const meshConfig = (nodeId: string, extra: Record<string, unknown>) => ({
  ...clawmatrixConfig.schema.parse({ nodeId, secret: SECRET, listenHost: "127.0.0.1", ...extra }),
  nodeId,
  secret: SECRET,
  listenPort: 0,
  proxyPort: 0,
});

beforeAll(async () => {
  gateway = await startGateway();
  const hostConfig = () => ({
    gateway: { port: (gateway.address() as AddressInfo).port, auth: { token: "gw-token" } },
    agents: { defaults: { workspace } },
  });
  a = new MeshService(
    meshConfig("node-a", { listen: true, agents: [{ id: "main" }] }),
    hostConfig,
    quiet,
    mkdtempSync(path.join(tmpdir(), "clawmatrix-state-")),
  );
  await a.start();
  const url = `ws://127.0.0.1:${a.node.listenPort}`;
  const toolProxy = { enabled: true, deny: ["exec", "process"], maxOutputBytes: 1024 };
  const coder = { id: "coder", tags: ["coding"] };
  b = new MeshService(
    meshConfig("node-b", { peers: [{ nodeId: "node-a", url }], agents: [coder], toolProxy }),
    hostConfig,
    quiet,
    mkdtempSync(path.join(tmpdir(), "clawmatrix-state-")),
  );
  await b.start();
  await vi.waitFor(() => expect(a.node.table.candidates("coder")).toEqual(["node-b"]), { timeout: 5000 });
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  gateway?.closeAllConnections();
  await new Promise((r) => gateway?.close(r));
});

const tools = createTools(() => a);
async function run(name: string, params: Record<string, unknown>, signal?: AbortSignal) {
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  const r: ToolResult = await tool.execute("call-1", params, signal);
  return { text: r.content[0]?.text ?? "", details: r.details as Record<string, unknown> };
}

describe("mesh tools: shape and availability", () => {
  it("registers the tools the manifest declares, each refusing unknown arguments", () => {
    expect(tools.map((t) => t.name)).toEqual([...TOOL_NAMES]);
    for (const t of tools)
      expect(t.parameters).toMatchObject({ type: "object", additionalProperties: false });
  });

  it("answers MESH_ERR_UNREACHABLE while the mesh is not running here", async () => {
    const idle = new MeshService(
      meshConfig("node-idle", {}),
      () => ({}),
      quiet,
      mkdtempSync(path.join(tmpdir(), "clawmatrix-state-")),
    );
    for (const live of [undefined, idle]) {
      const [peers] = createTools(() => live);
      expect(await peers?.execute("c", {})).toEqual({
        content: [{ type: "text", text: "error MESH_ERR_UNREACHABLE: the mesh is not running on this node" }],
        details: { error: "MESH_ERR_UNREACHABLE" },
      });
    }
  });

  it("cluster_peers shows each node with its route, agents and tool proxy", async () => {
    const r = await run("cluster_peers", {});
    expect(JSON.parse(r.text)).toEqual([
      expect.objectContaining({ nodeId: "node-b", status: "direct", agents: ["coder"], toolProxy: true }),
    ]);
    expect(r.details).toMatchObject({ nodeId: "node-a", links: ["node-b"] });
  });
});

describe("mesh tools: handoff and send", () => {
  it("hands a task to the agent the target names, with context, and returns the streamed answer", async () => {
    seen.length = 0;
    const r = await run("cluster_handoff", { target: "coder", task: "review the diff", context: "PR 7" });
    expect(r).toEqual({ text: "openclaw/coder did: review the diff", details: { node: "node-b" } });
    expect(seen).toEqual([
      {
        path: "/v1/chat/completions",
        auth: "Bearer gw-token",
        body: {
          model: "openclaw/coder",
          stream: true,
          user: "clawmatrix:node-a",
          messages: [{ role: "user", content: "review the diff\n\nContext from node-a:\nPR 7" }],
        },
      },
    ]);
    // A tag and a node id reach the same agent; a silent agent is said to be silent.
    expect((await run("cluster_handoff", { target: "tags:coding", task: "t" })).text).toBe(
      "openclaw/coder did: t",
    );
    expect((await run("cluster_handoff", { target: "node-b", task: "n" })).text).toBe(
      "openclaw/coder did: n",
    );
    expect((await run("cluster_handoff", { target: "coder", task: "silent" })).text).toBe(
      "(the remote agent gave no output)",
    );
  });

  it("refuses a missing argument or a target nobody else serves, naming it", async () => {
    const err = async (p: Record<string, unknown>) => (await run("cluster_handoff", p)).text;
    expect(await err({ task: "t" })).toBe(
      "error MESH_ERR_BAD_REQUEST: target is required (a non-empty string)",
    );
    expect(await err({ target: "coder", task: "  " })).toBe(
      "error MESH_ERR_BAD_REQUEST: task is required (a non-empty string)",
    );
    // This node's own agent and id are not remote targets.
    for (const target of ["nobody", "main", "node-a"])
      expect(await err({ target, task: "t" })).toBe(
        `error MESH_ERR_NO_CANDIDATE: no reachable node matches "${target}" (see cluster_peers)`,
      );
  });

  it("answers a cancelled call with MESH_ERR_CANCELLED", async () => {
    const r = await run("cluster_handoff", { target: "coder", task: "t" }, AbortSignal.abort());
    expect(r.text).toBe("error MESH_ERR_CANCELLED: cancelled before it was sent");
  });

  it("cluster_send starts a turn in the remote agent's session and returns at once", async () => {
    seen.length = 0;
    const r = await run("cluster_send", { target: "tags:coding", message: "deploy done" });
    expect(r).toEqual({
      text: "delivered to node-b",
      details: { delivered: true, node: "node-b", agent: "coder" },
    });
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(1);
    expect(seen[0]?.body).toMatchObject({
      model: "openclaw/coder",
      stream: false,
      messages: [{ role: "user", content: "Message from mesh node node-a: deploy done" }],
    });
  });
});

describe("mesh tools: remote tools", () => {
  it("runs read, write and any tool through node-b's gateway, files only in its workspace", async () => {
    seen.length = 0;
    const notes = path.join(workspace, "notes.txt");
    expect(await run("cluster_read", { target: "node-b", path: "notes.txt" })).toEqual({
      text: JSON.stringify({ ran: "read", args: { path: notes } }),
      details: { node: "node-b", truncated: false },
    });
    expect((await run("cluster_read", { target: "node-b", path: "/etc/hostname" })).text).toMatch(
      /^error MESH_ERR_OUTSIDE_WORKSPACE: node-b: path "\/etc\/hostname" resolves outside the workspace/,
    );
    await run("cluster_write", { target: "node-b", path: "out/x" });
    await run("cluster_tool", { target: "coder", tool: "search", args: { q: "mesh" } });
    await run("cluster_tool", { target: "coder", tool: "list" });
    expect(seen.map((s) => [s.path, s.body])).toEqual([
      ["/tools/invoke", { tool: "read", args: { path: notes } }],
      ["/tools/invoke", { tool: "write", args: { path: path.join(workspace, "out", "x"), content: "" } }],
      ["/tools/invoke", { tool: "search", args: { q: "mesh" } }],
      ["/tools/invoke", { tool: "list", args: {} }],
    ]);
  });

  it("refuses a denied tool without running it, caps big output, and names a failing gateway", async () => {
    seen.length = 0;
    expect((await run("cluster_exec", { target: "node-b", command: "rm -rf /" })).text).toBe(
      'error MESH_ERR_TOOL_DENIED: node-b: tool "exec" is denied by node-b\'s toolProxy.deny',
    );
    // The gateway trims names before lookup: padded names must meet the deny list too.
    for (const [tool, as] of [
      [" process", "process"],
      ["exec\t", "exec"],
      ["\nBash ", "exec"],
    ])
      expect((await run("cluster_tool", { target: "node-b", tool })).text).toBe(
        `error MESH_ERR_TOOL_DENIED: node-b: tool "${as}" is denied by node-b's toolProxy.deny`,
      );
    expect(seen).toEqual([]);
    const big = await run("cluster_tool", { target: "node-b", tool: "big" });
    expect(big.details).toEqual({ node: "node-b", truncated: true });
    expect(big.text.endsWith("\n[clawmatrix: output truncated at 1024 of 5000 bytes]")).toBe(true);
    expect((await run("cluster_tool", { target: "node-b", tool: "fail" })).text).toBe(
      "error MESH_ERR_UPSTREAM: node-b: the local gateway answered /tools/invoke with 500: tool crashed",
    );
    expect((await run("cluster_exec", { target: "node-b" })).text).toBe(
      "error MESH_ERR_BAD_REQUEST: command is required (a non-empty string)",
    );
  });
});
