import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isRegistryError, MAX_RESPONSE_BYTES, RegistryClient } from "./registry-client.ts";

interface Seen {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: string;
}
interface Scripted {
  status?: number;
  body?: unknown;
  /** Never answer (for the timeout test). */
  hang?: boolean;
}

// A scripted stand-in for the FastAPI registry: it records every request and answers from a queue
// (200 `{}` when empty). Like FastAPI's redirect_slashes it answers a slash-less collection path
// with a 307, so a client calling the wrong path shows up as an extra request.
let server: Server;
let url: string;
const seen: Seen[] = [];
const script: Scripted[] = [];
const KEY = "reg-key-0123456789";
const RECORD = { id: "ag-1", hostname: "alpha", installation_id: "inst-a", capabilities: ["code"] };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const [path = "", query = ""] = (req.url ?? "").split("?");
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", path, query, headers: req.headers, body });
      if (path === "/api/v1/agents") {
        res.writeHead(307, { location: `/api/v1/agents/${query ? `?${query}` : ""}` }).end();
        return;
      }
      const next = script.shift() ?? {};
      if (next.hang) return;
      const text = typeof next.body === "string" ? next.body : JSON.stringify(next.body ?? {});
      res.writeHead(next.status ?? 200, { "content-type": "application/json" }).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen.length = 0;
  script.length = 0;
});

const client = (apiKey?: string, timeoutMs?: number) =>
  new RegistryClient({ baseUrl: `${url}//`, apiKey, timeoutMs });
const reply = (...r: Scripted[]) => script.push(...r);
const last = () => seen[seen.length - 1] as Seen;

describe("RegistryClient paths and bodies", () => {
  it("registers at the collection path with its trailing slash, in one request", async () => {
    reply({ body: RECORD });
    const rec = await client().register({ hostname: "alpha", capabilities: ["code"] });
    expect(rec).toMatchObject(RECORD);
    expect(seen).toHaveLength(1);
    expect(last()).toMatchObject({ method: "POST", path: "/api/v1/agents/", query: "" });
    expect(JSON.parse(last().body)).toEqual({ hostname: "alpha", capabilities: ["code"] });
    expect(last().headers["content-type"]).toBe("application/json");
  });

  it("lists agents at the collection path, optionally by pilot node id", async () => {
    reply({ body: { agents: [RECORD] } }, { body: { agents: [] } });
    expect(await client().listAgents()).toHaveLength(1);
    expect(await client().listAgents({ pilotNodeId: 305419896 })).toEqual([]);
    expect(seen.map((s) => [s.path, s.query])).toEqual([
      ["/api/v1/agents/", ""],
      ["/api/v1/agents/", "pilot_node_id=305419896"],
    ]);
  });

  it("searches with q= (never query=), repeated capabilities and a clamped limit", async () => {
    const none = { body: { agents: [], total: 0 } };
    reply({ body: { agents: [RECORD], total: 1 } }, none, none, none);
    const c = client();
    expect(await c.search({ q: "  code review ", capabilities: ["a", "b", "a", " "] })).toEqual({
      agents: [expect.objectContaining(RECORD)],
      total: 1,
    });
    await c.search({ q: "   ", limit: 0 });
    await c.search({ limit: 99 });
    const many = Array.from({ length: 25 }, (_, i) => `cap${i}`);
    await c.search({ capabilities: many, limit: 7.9 });
    expect(seen.map((s) => s.path)).toEqual(Array(4).fill("/api/v1/agents/search"));
    expect(seen[0]?.query).toBe("q=code+review&capabilities=a&capabilities=b&limit=20");
    expect(seen[1]?.query).toBe("limit=1");
    expect(seen[2]?.query).toBe("limit=50");
    const params = new URLSearchParams(seen[3]?.query);
    expect(params.getAll("capabilities")).toEqual(many.slice(0, 20));
    expect(params.get("limit")).toBe("7");
    expect(seen.some((s) => s.query.includes("query="))).toBe(false);
  });

  it("uses exact, encoded paths without a trailing slash everywhere else", async () => {
    const c = client();
    reply({}, { body: RECORD }, { body: RECORD }, {});
    await c.heartbeat("a/b c");
    await c.getAgent("ag-1");
    await c.byHostname("alpha.local");
    await c.deregister("ag-1");
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /api/v1/agents/a%2Fb%20c/heartbeat",
      "GET /api/v1/agents/ag-1",
      "GET /api/v1/agents/by-hostname/alpha.local",
      "DELETE /api/v1/agents/ag-1",
    ]);
    expect(seen[0]?.body).toBe("");
    expect(seen[0]?.headers["content-type"]).toBeUndefined();
  });

  it("relays messages and trust handshakes with the contract's bodies", async () => {
    const msg = {
      message_id: "m1",
      from_installation_id: "inst-b",
      from_hostname: "beta",
      to_installation_id: "inst-a",
      body: "hi",
      created_at: "2026-01-01T00:00:00Z",
      extra: "ignored",
    };
    reply(
      { body: { ok: true, message_id: "m1" } },
      { body: { messages: [msg] } },
      { body: { acked: 1 } },
      { body: { status: "pending" } },
      { body: { pending: [{ from_id: "inst-b", to_id: "inst-a", introduction: "hello" }] } },
      { body: { status: "approved" } },
      { body: { status: "rejected" } },
      { body: { status: "blocked" } },
      { body: { status: "revoked" } },
      { body: { trusted: ["inst-b"] } },
    );
    const c = client();
    const send = {
      from_installation_id: "inst-a",
      from_hostname: "alpha",
      to_installation_id: "inst-b",
      body: "x",
    };
    expect(await c.relaySend(send)).toEqual({ ok: true, message_id: "m1" });
    const [inbox] = await c.relayInbox("inst-a");
    expect(inbox).toEqual({ ...msg, extra: undefined });
    expect(await c.relayAck("inst-a", ["m1"])).toBe(1);
    expect(await c.trustRequest("inst-a", "inst-b", "hello")).toEqual({ status: "pending" });
    expect(await c.trustPending("inst-a")).toHaveLength(1);
    await c.trustApprove("inst-b", "inst-a");
    await c.trustReject("inst-b", "inst-a");
    await c.trustBlock("inst-b", "inst-a");
    expect(await c.trustRevoke("inst-b", "inst-a")).toEqual({ status: "revoked" });
    expect(await c.trusted("inst-a")).toEqual(["inst-b"]);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /api/v1/agents/messages/send",
      "GET /api/v1/agents/messages/inbox/inst-a",
      "POST /api/v1/agents/messages/ack",
      "POST /api/v1/trust/request",
      "GET /api/v1/trust/pending/inst-a",
      "POST /api/v1/trust/approve",
      "POST /api/v1/trust/reject",
      "POST /api/v1/trust/block",
      "POST /api/v1/trust/revoke",
      "GET /api/v1/trust/trusted/inst-a",
    ]);
    const bodies = seen.map((s) => (s.body ? JSON.parse(s.body) : undefined));
    expect(bodies[0]).toEqual(send);
    expect(bodies[2]).toEqual({ installation_id: "inst-a", message_ids: ["m1"] });
    expect(bodies[3]).toEqual({ from_id: "inst-a", to_id: "inst-b", introduction: "hello" });
    expect(bodies[5]).toEqual({ from_id: "inst-b", to_id: "inst-a" });
  });

  it("sends X-Registry-Key only when a key is configured", async () => {
    reply({ body: { trusted: [] } });
    await client().trusted("x");
    expect(last().headers["x-registry-key"]).toBeUndefined();
    reply({ body: { trusted: [] } });
    await client(KEY).trusted("x");
    expect(last().headers["x-registry-key"]).toBe(KEY);
  });
});

describe("RegistryClient errors", () => {
  it("treats 404 per method: done, not found, undefined, or an HTTP error", async () => {
    const c = client();
    const gone = { status: 404, body: { detail: "Agent not found" } };
    reply(gone, gone, gone, gone, gone);
    await expect(c.deregister("ag-1")).resolves.toBeUndefined();
    await expect(c.heartbeat("ag-1")).rejects.toMatchObject({
      code: "REGISTRY_ERR_NOT_FOUND",
      message: expect.stringContaining("ag-1"),
    });
    expect(await c.getAgent("ag-1")).toBeUndefined();
    expect(await c.byHostname("ghost")).toBeUndefined();
    const err = await c.relayInbox("inst-a").catch((e: unknown) => e);
    expect(isRegistryError(err, "HTTP")).toBe(true);
    expect(err).toMatchObject({
      details: { status: 404 },
      message: "GET /api/v1/agents/messages/inbox/inst-a answered 404: Agent not found",
    });
  });

  it("names FastAPI's 422 detail (first msg) and truncates long details", async () => {
    const invalid = [{ loc: ["body", "hostname"], msg: "Field required", type: "missing" }, { msg: "2nd" }];
    reply({ status: 422, body: { detail: invalid } }, { status: 500, body: { detail: "x".repeat(500) } });
    await expect(client().register({ hostname: "" })).rejects.toMatchObject({
      code: "REGISTRY_ERR_HTTP",
      details: { status: 422 },
      message: "POST /api/v1/agents/ answered 422: Field required",
    });
    const err = (await client()
      .trustPending("a")
      .catch((e: unknown) => e)) as Error;
    expect(err.message.startsWith("GET /api/v1/trust/pending/a answered 500: xxx")).toBe(true);
    expect(err.message.length).toBeLessThan(260);
  });

  it("reports a refused key as AUTH without ever showing the key", async () => {
    reply({ status: 401, body: { detail: `bad key ${KEY}` } }, { status: 403, body: { detail: KEY } });
    for (const call of [() => client(KEY).register({ hostname: "a" }), () => client(KEY).listAgents()]) {
      const err = (await call().catch((e: unknown) => e)) as Error;
      expect(isRegistryError(err, "REGISTRY_ERR_AUTH")).toBe(true);
      expect(err.message).toMatch(/registry key was refused/);
      expect(JSON.stringify({ ...err, message: err.message })).not.toContain(KEY);
    }
    reply({ status: 422, body: { detail: `key ${KEY} is malformed` } });
    const err = (await client(KEY)
      .getAgent("a")
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toContain("[redacted]");
    expect(err.message).not.toContain(KEY);
  });

  it("refuses malformed, non-JSON and oversized answers as BAD_RESPONSE", async () => {
    reply(
      { body: { id: "ag-1" } },
      { body: { agents: [{ hostname: "no-id" }] } },
      { body: "<html>proxy</html>" },
      { body: { trusted: ["x".repeat(MAX_RESPONSE_BYTES)] } },
    );
    const c = client();
    await expect(c.getAgent("ag-1")).rejects.toMatchObject({
      code: "REGISTRY_ERR_BAD_RESPONSE",
      message: expect.stringContaining("hostname"),
    });
    await expect(c.listAgents()).rejects.toMatchObject({ code: "REGISTRY_ERR_BAD_RESPONSE" });
    await expect(c.byHostname("a")).rejects.toMatchObject({
      code: "REGISTRY_ERR_BAD_RESPONSE",
      message: expect.stringMatching(/not JSON/),
    });
    await expect(c.trusted("a")).rejects.toMatchObject({
      code: "REGISTRY_ERR_BAD_RESPONSE",
      message: expect.stringMatching(/more than 1048576 bytes/),
    });
  });

  it("reports a closed port and a silent server as UNREACHABLE, with the cause", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const dead = new RegistryClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY });
    const err = (await dead.heartbeat("ag-1").catch((e: unknown) => e)) as Error;
    expect(isRegistryError(err, "UNREACHABLE")).toBe(true);
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).not.toContain(KEY);
    reply({ hang: true });
    await expect(client(undefined, 150).getAgent("a")).rejects.toMatchObject({
      code: "REGISTRY_ERR_UNREACHABLE",
      message: expect.stringMatching(/timed out after 150 ms/),
    });
  });
});
