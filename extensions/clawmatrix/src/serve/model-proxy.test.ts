import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { MeshNode } from "../mesh/node.ts";
import { type Handler, meshError } from "../mesh/requests.ts";
import { MAX_BODY_BYTES, ModelProxy } from "./model-proxy.ts";

// The proxy on node-a in front of real mesh nodes on loopback; node-b and node-c serve model "m1"
// with scripted chat handlers (what a provider behind them would do), no gateway.

const SECRET = "proxy-secret-0123456789abcdef";
const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const opened: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of opened.splice(0).reverse()) await x.stop();
});

async function started<T extends { start(): Promise<unknown>; stop(): Promise<void> }>(x: T): Promise<T> {
  opened.push(x);
  await x.start();
  return x;
}

const meshNode = (nodeId: string, models: string[], chat?: Handler, url?: string) =>
  new MeshNode({
    nodeId,
    secret: SECRET,
    listen: url ? undefined : { host: "127.0.0.1", port: 0 },
    peers: url ? [{ nodeId: "node-a", url }] : [],
    state: { agents: [], models: models.map((id) => ({ id })), tags: [], toolProxy: false },
    handlers: chat ? { chat } : {},
    logger: quiet,
  });

/** node-a (the proxy's node, serving "local" itself) linked to one serving node per entry. */
async function mesh(serve: Record<string, Handler>, timeoutMs = 10_000) {
  const a = await started(meshNode("node-a", ["local"], async () => ({ by: "node-a" })));
  const url = `ws://127.0.0.1:${a.listenPort}`;
  for (const [id, chat] of Object.entries(serve)) await started(meshNode(id, ["m1"], chat, url));
  await expect
    .poll(() => a.table.modelCandidates("m1").length, { timeout: 5000 })
    .toBe(Object.keys(serve).length);
  const proxy = await started(new ModelProxy({ node: a, secret: SECRET, port: 0, timeoutMs, log: quiet }));
  const base = `http://127.0.0.1:${proxy.port}`;
  const call = (path: string, body?: unknown, init: RequestInit & { token?: string } = {}) =>
    fetch(`${base}${path}`, {
      method: body === undefined ? "GET" : "POST",
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      ...init,
      headers: { authorization: `Bearer ${init.token ?? SECRET}`, ...(init.headers ?? {}) },
    });
  return { a, proxy, base, call };
}

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> });
const chatOf =
  (id: string): Handler =>
  async (body) => ({ by: id, got: body });
const MESSAGES = [{ role: "user", content: "hi" }];

describe("model proxy: access and routes", () => {
  it("refuses a missing or wrong bearer with 401 before anything reaches the mesh", async () => {
    let served = 0;
    const { call } = await mesh({ "node-b": async () => ({ n: ++served }) });
    const wrong = await json(
      await call("/v1/chat/completions", { model: "m1" }, { token: "not-the-secret" }),
    );
    expect(wrong).toEqual({
      status: 401,
      body: {
        error: {
          message: "missing or wrong bearer token",
          type: "authentication_error",
          code: "authentication_error",
        },
      },
    });
    const basic = await call("/v1/models", undefined, { headers: { authorization: `Basic ${SECRET}` } });
    expect(basic.status).toBe(401);
    expect(served).toBe(0);
  });

  it("lists the mesh's models as node/model, and one node's under /node/<id>/v1", async () => {
    const { call } = await mesh({ "node-b": chatOf("node-b"), "node-c": chatOf("node-c") });
    const all = await json(await call("/v1/models"));
    expect(all.status).toBe(200);
    expect(all.body.object).toBe("list");
    expect(all.body.data).toEqual(
      expect.arrayContaining([
        { id: "node-b/m1", object: "model", owned_by: "node-b" },
        { id: "node-c/m1", object: "model", owned_by: "node-c" },
      ]),
    );
    expect(all.body.data).toHaveLength(2); // node-a's own "local" is not offered back to itself
    expect((await json(await call("/node/node-c/v1/models/?x=1"))).body.data).toEqual([
      { id: "m1", object: "model", owned_by: "node-c" },
    ]);
    expect((await json(await call("/node/node-z/v1/models"))).body.data).toEqual([]);
  });

  it("answers 404 naming an unknown route and 405 to a chat call that is not a POST", async () => {
    const { call } = await mesh({ "node-b": chatOf("node-b") });
    expect(await json(await call("/v2/models"))).toMatchObject({
      status: 404,
      body: { error: { message: "no route GET /v2/models", code: "invalid_request_error" } },
    });
    expect(await json(await call("/v1/chat/completions"))).toMatchObject({
      status: 405,
      body: { error: { message: "use POST" } },
    });
  });
});

describe("model proxy: requests", () => {
  it("refuses bad bodies with 400 and unknown models with 404, naming the value", async () => {
    const { call } = await mesh({ "node-b": chatOf("node-b") });
    const message = async (path: string, body: unknown) =>
      ((await json(await call(path, body))).body.error as { message: string; code: string }).message;
    expect(await message("/v1/chat/completions", "{not json")).toMatch(/^bad request body: /);
    expect(await message("/v1/chat/completions", [1])).toBe("bad request body: expected a JSON object");
    expect(await message("/v1/chat/completions", {})).toBe("model is required");
    expect(await message("/v1/chat/completions", { model: "" })).toBe("model is required");
    const huge = JSON.stringify({ model: "m1", pad: "x".repeat(MAX_BODY_BYTES) });
    expect(await json(await call("/v1/chat/completions", huge))).toMatchObject({
      status: 400,
      body: { error: { message: `bad request body: request body over ${MAX_BODY_BYTES} bytes` } },
    });
    const missing = await json(await call("/v1/chat/completions", { model: "nope", messages: MESSAGES }));
    expect(missing).toEqual({
      status: 404,
      body: {
        error: {
          message: 'no reachable node serves model "nope"',
          type: "model_not_found",
          code: "model_not_found",
        },
      },
    });
    expect(await message("/node/node-b/v1/chat/completions", { model: "m2" })).toBe(
      'no reachable node serves model "m2" on node-b',
    );
    // An unknown node prefix stays part of the model id; the proxy's own node is never a candidate.
    expect(await message("/v1/chat/completions", { model: "node-z/m1" })).toBe(
      'no reachable node serves model "node-z/m1"',
    );
    expect(await message("/v1/chat/completions", { model: "local" })).toBe(
      'no reachable node serves model "local"',
    );
  });

  it("sends the request to the node the model id or the path names, without model and stream", async () => {
    const { call } = await mesh({ "node-b": chatOf("node-b"), "node-c": chatOf("node-c") });
    const pinned = await json(
      await call("/v1/chat/completions", { model: "node-c/m1", messages: MESSAGES, temperature: 0.2 }),
    );
    expect(pinned).toEqual({
      status: 200,
      body: {
        by: "node-c",
        got: { model: "m1", request: { messages: MESSAGES, temperature: 0.2 }, stream: false },
      },
    });
    const byPath = await json(await call("/node/node-b/v1/chat/completions", { model: "m1", stream: false }));
    expect(byPath.body).toMatchObject({ by: "node-b", got: { model: "m1", stream: false } });
  });

  it("streams SSE events as they come, and a stream that said nothing ends with [DONE]", async () => {
    const events = ['data: {"choices":[{"delta":{"content":"he"}}]}\n\n', "data: [DONE]\n\n"];
    const { call } = await mesh({
      "node-b": async (body, ctx) => {
        if ((body as { request: { quiet?: boolean } }).request.quiet) return undefined;
        for (const e of events) ctx.chunk(e);
        return undefined;
      },
    });
    const r = await call("/v1/chat/completions", { model: "m1", stream: true, messages: MESSAGES });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/event-stream");
    expect(await r.text()).toBe(events.join(""));
    // A burst of events (as a fast model sends them) arrives whole and in order.
    const many = Array.from({ length: 2000 }, (_, i) => `data: {"i":${i}}\n\n`);
    const { call: callMany } = await mesh(
      {
        "node-c": async (_b, ctx) => {
          for (const e of many) ctx.chunk(e);
          return undefined;
        },
      },
      10_000,
    );
    expect(await (await callMany("/v1/chat/completions", { model: "m1", stream: true })).text()).toBe(
      many.join(""),
    );
    const silent = await call("/v1/chat/completions", { model: "m1", stream: true, quiet: true });
    expect(await silent.text()).toBe("data: [DONE]\n\n");
  });

  it("passes a model's bytes on as they came, and mends bytes that are not UTF-8", async () => {
    const good = Buffer.from('data: {"c":"é€😀"}\n\n');
    // A lone continuation byte and a cut 3-byte character: each becomes U+FFFD, the rest is kept.
    const bad = Buffer.concat([
      Buffer.from("data: a"),
      Buffer.from([0x80]),
      Buffer.from("b\xe2\x82\n\n", "latin1"),
    ]);
    const { call } = await mesh({
      "node-b": async (_b, ctx) => {
        ctx.chunk(good);
        ctx.chunk(bad);
        return undefined;
      },
    });
    const r = await call("/v1/chat/completions", { model: "m1", stream: true });
    const body = Buffer.from(await r.arrayBuffer());
    expect(body.toString()).toBe('data: {"c":"é€😀"}\n\ndata: a\ufffdb\ufffd\n\n');
    expect(body.subarray(0, good.length).equals(good)).toBe(true);
  });
});

describe("model proxy: failures", () => {
  it("maps mesh error codes to HTTP statuses, with the serving node's message", async () => {
    const throwing: Handler = async (body) => {
      const fail = (body as { request: { fail: string } }).request.fail;
      if (fail === "plain") throw new Error("provider exploded");
      throw meshError(fail, `failing with ${fail}`);
    };
    const { call } = await mesh({ "node-b": throwing });
    const cases: Array<[string, number, string]> = [
      ["BAD_REQUEST", 400, "MESH_ERR_BAD_REQUEST"],
      ["UNREACHABLE", 503, "MESH_ERR_UNREACHABLE"],
      ["CANCELLED", 499, "MESH_ERR_CANCELLED"],
      ["plain", 502, "MESH_ERR_UPSTREAM"],
      ["TOOL_DENIED", 502, "MESH_ERR_TOOL_DENIED"],
    ];
    for (const [fail, status, code] of cases) {
      const r = await json(await call("/v1/chat/completions", { model: "m1", fail }));
      const message = fail === "plain" ? "node-b: provider exploded" : `node-b: failing with ${fail}`;
      expect({ fail, ...r }).toEqual({ fail, status, body: { error: { message, type: code, code } } });
    }
  });

  it("answers 504 when the serving node stays silent past the timeout", async () => {
    const hang: Handler = (_b, ctx) => new Promise((r) => ctx.signal.addEventListener("abort", r));
    const { call } = await mesh({ "node-b": hang }, 300);
    expect(await json(await call("/v1/chat/completions", { model: "m1" }))).toEqual({
      status: 504,
      body: {
        error: {
          message: "no answer from node-b within 300 ms",
          type: "MESH_ERR_TIMEOUT",
          code: "MESH_ERR_TIMEOUT",
        },
      },
    });
  });

  it("fails over to the next node when the first cannot serve, but not once a stream began", async () => {
    const tried: string[] = [];
    const flaky =
      (id: string): Handler =>
      async (body, ctx) => {
        tried.push(id);
        const streaming = (body as { stream: boolean }).stream;
        if (tried.length === 1 && !streaming) throw meshError("UNREACHABLE", "provider down");
        if (streaming) {
          ctx.chunk("data: first\n\n");
          throw new Error("provider cut the stream");
        }
        return { by: id };
      };
    const { call } = await mesh({ "node-b": flaky("node-b"), "node-c": flaky("node-c") });
    const r = await json(await call("/v1/chat/completions", { model: "m1" }));
    expect(r.status).toBe(200);
    expect(tried).toHaveLength(2);
    expect(r.body).toEqual({ by: tried[1] });
    expect(tried[0]).not.toBe(tried[1]);

    tried.length = 0;
    const s = await call("/v1/chat/completions", { model: "m1", stream: true });
    expect(s.status).toBe(200);
    const text = await s.text();
    expect(text.startsWith("data: first\n\n")).toBe(true);
    const error = JSON.parse(text.split("\n\n")[1]?.replace(/^data: /, "") ?? "");
    expect(error).toEqual({
      error: { message: `${tried[0]}: provider cut the stream`, code: "MESH_ERR_UPSTREAM" },
    });
    expect(tried).toHaveLength(1);
  });

  it("cancels the serving node's work when the client goes away mid-stream", async () => {
    let cancelled = false;
    const { call } = await mesh({
      "node-b": async (_b, ctx) => {
        ctx.chunk("data: one\n\n");
        await new Promise((r) => ctx.signal.addEventListener("abort", r));
        cancelled = true;
      },
    });
    const ac = new AbortController();
    const r = await call("/v1/chat/completions", { model: "m1", stream: true }, { signal: ac.signal });
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: one\n\n");
    ac.abort();
    await expect.poll(() => cancelled, { timeout: 5000 }).toBe(true);
  });
});

describe("model proxy: lifecycle", () => {
  it("takes a free port, refuses a busy one, and stops idempotently", async () => {
    const { a, proxy, base } = await mesh({});
    const clash = new ModelProxy({
      node: a,
      secret: SECRET,
      port: proxy.port as number,
      timeoutMs: 1000,
      log: quiet,
    });
    await expect(clash.start()).rejects.toMatchObject({ code: "EADDRINUSE" });
    await proxy.stop();
    await proxy.stop();
    await expect(fetch(`${base}/v1/models`)).rejects.toThrow();
  });
});
