// biome-ignore-all lint/suspicious/noExplicitAny: the tests read deep paths of plain JSON
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type MockRegistry, startMockRegistry } from "./server.ts";

// The mock Agent Registry honours the contract of EXTERNAL-APIS.md section 2, FastAPI quirks included.

let reg: MockRegistry;
beforeAll(async () => {
  reg = await startMockRegistry();
});
afterAll(() => reg.close());
beforeEach(async () => {
  await call(reg, "POST", "/_control/registry/reset");
});

async function call(
  r: MockRegistry,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${r.url}${path}`, {
    method,
    redirect: "manual",
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as any };
}
const register = (body: Record<string, unknown>, r = reg) => call(r, "POST", "/api/v1/agents/", body);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mock Agent Registry: agents", () => {
  it("creates (201), updates in place (200, same id) and refuses a hostname held by another installation (409)", async () => {
    const created = await register({ hostname: "alpha", installation_id: "inst-a", capabilities: ["chat"] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ hostname: "alpha", installation_id: "inst-a", pilot_node_id: null });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    const again = await register({ hostname: "alpha-2", installation_id: "inst-a", display_name: "A" });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: created.body.id, hostname: "alpha-2", capabilities: ["chat"] });
    const clash = await register({ hostname: "alpha-2", installation_id: "inst-b" });
    expect(clash.status).toBe(409);
    expect(typeof clash.body.detail).toBe("string");
    expect((await call(reg, "GET", `/api/v1/agents/${created.body.id}`)).body.display_name).toBe("A");
    expect((await call(reg, "DELETE", `/api/v1/agents/${created.body.id}`)).status).toBe(204);
    expect((await call(reg, "DELETE", `/api/v1/agents/${created.body.id}`)).status).toBe(404);
  });

  it("answers heartbeats, then 404 once the registry forgot the agent", async () => {
    const { body } = await register({ hostname: "beta" });
    const hb = await call(reg, "POST", `/api/v1/agents/${body.id}/heartbeat`);
    expect(hb).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(Date.parse(hb.body.last_seen)).not.toBeNaN();
    expect((await call(reg, "POST", "/_control/registry/forget", { hostname: "beta" })).status).toBe(200);
    const lost = await call(reg, "POST", `/api/v1/agents/${body.id}/heartbeat`);
    expect(lost).toMatchObject({ status: 404, body: { detail: "Agent not found" } });
  });

  it("redirects 307 across the trailing slash both ways, keeping the query", async () => {
    const toSlash = await call(reg, "GET", "/api/v1/agents?pilot_node_id=7");
    expect(toSlash.status).toBe(307);
    const loc = new URL(toSlash.headers.get("location") as string, reg.url);
    expect(`${loc.pathname}${loc.search}`).toBe("/api/v1/agents/?pilot_node_id=7");
    expect((await call(reg, "POST", "/api/v1/agents", { hostname: "x" })).status).toBe(307);
    const noSlash = await call(reg, "GET", "/api/v1/agents/search/?q=a");
    const loc2 = new URL(noSlash.headers.get("location") as string, reg.url);
    expect([noSlash.status, `${loc2.pathname}${loc2.search}`]).toEqual([307, "/api/v1/agents/search?q=a"]);
    // A client that follows redirects keeps its method and body (307, not 302).
    const followed = await fetch(`${reg.url}/api/v1/agents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname: "followed" }),
    });
    expect(followed.status).toBe(201);
    const seen = (await call(reg, "GET", "/_control/registry/requests?limit=2")).body.requests;
    expect(seen.map((r: any) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "POST /api/v1/agents 307",
      "POST /api/v1/agents/ 201",
    ]);
  });

  it("searches online agents by q, by every given capability, and ignores a `query` param", async () => {
    await register({ hostname: "coder", description: "Writes TypeScript", capabilities: ["code", "review"] });
    await register({ hostname: "writer", display_name: "Docs", capabilities: ["docs", "review"] });
    await register({ hostname: "ops", capabilities: ["deploy"] });
    const search = async (qs: string) => (await call(reg, "GET", `/api/v1/agents/search?${qs}`)).body;
    expect((await search("q=typescript")).agents.map((a: any) => a.hostname)).toEqual(["coder"]);
    expect((await search("q=DOCS")).agents.map((a: any) => a.hostname)).toEqual(["writer"]);
    expect((await search("capabilities=review")).total).toBe(2);
    const both = await search("capabilities=review&capabilities=code");
    expect([both.total, both.agents[0].hostname]).toEqual([1, "coder"]);
    expect(await search("query=coder")).toMatchObject({ total: 3 });
    const limited = await search("limit=1");
    expect([limited.agents.length, limited.total]).toEqual([1, 3]);
    for (const limit of [0, 51]) {
      const bad = await call(reg, "GET", `/api/v1/agents/search?limit=${limit}`);
      expect(bad.status).toBe(422);
      expect(bad.body.detail[0]).toMatchObject({ loc: ["query", "limit"], type: expect.any(String) });
    }
    const last = (await call(reg, "GET", "/_control/registry/requests?limit=1")).body.requests[0];
    expect(last).toMatchObject({ path: "/api/v1/agents/search", query: "limit=51" });
  });

  it("filters the list by a 32-bit pilot_node_id", async () => {
    await register({ hostname: "wide", pilot_node_id: 0x0001_37d8, pilot_address: "0:0001.37D8" });
    await register({ hostname: "low", pilot_node_id: 0x37d8 });
    const list = await call(reg, "GET", `/api/v1/agents/?pilot_node_id=${0x0001_37d8}`);
    expect(list.body.agents.map((a: any) => a.hostname)).toEqual(["wide"]);
    expect((await call(reg, "GET", "/api/v1/agents/")).body.agents).toHaveLength(2);
    expect((await register({ hostname: "huge", pilot_node_id: 2 ** 32 })).status).toBe(422);
  });

  it("answers validation errors the way FastAPI does", async () => {
    const missing = await register({ display_name: "no host", pilot_node_id: "seven" });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      expect.objectContaining({ loc: ["body", "hostname"], type: "missing", msg: "Field required" }),
      expect.objectContaining({ loc: ["body", "pilot_node_id"], type: "int_type" }),
    ]);
    const many = await register({
      hostname: "h",
      capabilities: Array.from({ length: 51 }, (_, i) => `c${i}`),
    });
    expect(many.body.detail[0]).toMatchObject({ loc: ["body", "capabilities"], type: "too_long" });
    const broken = await call(reg, "POST", "/api/v1/agents/", "{not json");
    expect(broken.status).toBe(422);
    expect(broken.body.detail[0]).toMatchObject({ type: "json_invalid", msg: "JSON decode error" });
    expect((await call(reg, "GET", "/api/v1/nowhere")).body).toEqual({ detail: "Not Found" });
    expect((await call(reg, "POST", "/api/v1/agents/search")).status).toBe(405);
  });

  it("fails the next heartbeats on demand, and counts calls per route", async () => {
    const { body } = await register({ hostname: "gamma" });
    await call(reg, "POST", "/_control/registry/fail-heartbeats", { count: 2 });
    const hb = () => call(reg, "POST", `/api/v1/agents/${body.id}/heartbeat`);
    expect([(await hb()).status, (await hb()).status, (await hb()).status]).toEqual([503, 503, 200]);
    await call(reg, "POST", "/_control/registry/fail-heartbeats", { count: 1, status: 500 });
    expect((await hb()).status).toBe(500);
    const calls = (await call(reg, "GET", "/_control/registry/calls")).body;
    expect(calls["POST /api/v1/agents/{id}/heartbeat"]).toBe(4);
    expect(calls["POST /api/v1/agents/"]).toBe(1);
  });

  it("resets connections while down, then serves again", async () => {
    await call(reg, "POST", "/_control/registry/down", { ms: 300 });
    await expect(fetch(`${reg.url}/api/v1/agents/`)).rejects.toThrow(TypeError);
    expect((await call(reg, "GET", "/healthz")).body).toEqual({ ok: true });
    expect((await call(reg, "GET", "/_control/registry/agents")).status).toBe(200);
    await sleep(400);
    expect((await call(reg, "GET", "/api/v1/agents/")).status).toBe(200);
  });
});

describe("mock Agent Registry: trust and the HTTP relay", () => {
  it("refuses to relay without trust, relays after request and approval, and keeps messages until acked", async () => {
    await register({ hostname: "a", installation_id: "inst-a" });
    await register({ hostname: "b", installation_id: "inst-b" });
    const msg = {
      from_installation_id: "inst-a",
      from_hostname: "a",
      to_installation_id: "inst-b",
      body: "hi",
    };
    const send = (m = msg) => call(reg, "POST", "/api/v1/agents/messages/send", m);
    expect((await send()).status).toBe(403);
    expect((await send({ ...msg, to_installation_id: "inst-zz" })).status).toBe(404);
    const req = await call(reg, "POST", "/api/v1/trust/request", {
      from_id: "inst-a",
      to_id: "inst-b",
      introduction: "a here",
    });
    expect(req.body).toEqual({ status: "pending", from_id: "inst-a", to_id: "inst-b" });
    const pending = (await call(reg, "GET", "/api/v1/trust/pending/inst-b")).body.pending;
    expect(pending).toMatchObject([{ from_id: "inst-a", to_id: "inst-b", introduction: "a here" }]);
    const pair = { from_id: "inst-a", to_id: "inst-b" };
    expect((await call(reg, "POST", "/api/v1/trust/approve", pair)).body.status).toBe("approved");
    expect((await call(reg, "POST", "/api/v1/trust/approve", pair)).status).toBe(404);
    expect((await call(reg, "GET", "/api/v1/trust/trusted/inst-b")).body.trusted).toEqual(["inst-a"]);

    const sent = await send();
    expect(sent.body).toMatchObject({ ok: true, message_id: expect.any(String) });
    await send({ ...msg, body: "second" });
    const back = {
      from_installation_id: "inst-b",
      from_hostname: "b",
      to_installation_id: "inst-a",
      body: "yo",
    };
    expect((await send(back)).status).toBe(200); // trust is mutual
    const inbox = (await call(reg, "GET", "/api/v1/agents/messages/inbox/inst-b")).body.messages;
    expect(inbox.map((m: any) => m.body)).toEqual(["hi", "second"]);
    const ack = (installation_id: string) =>
      call(reg, "POST", "/api/v1/agents/messages/ack", {
        installation_id,
        message_ids: [inbox[0].message_id],
      });
    expect((await ack("inst-a")).body).toEqual({ acked: 0 });
    expect((await ack("inst-b")).body).toEqual({ acked: 1 });
    const left = (await call(reg, "GET", "/api/v1/agents/messages/inbox/inst-b")).body.messages;
    expect(left.map((m: any) => m.body)).toEqual(["second"]);
  });

  it("blocks requests from a blocked installation and ends trust on block or revoke", async () => {
    const pair = { from_id: "inst-c", to_id: "inst-d" };
    const request = () => call(reg, "POST", "/api/v1/trust/request", { ...pair, introduction: "c" });
    await request();
    await call(reg, "POST", "/api/v1/trust/approve", pair);
    expect((await request()).body.status).toBe("trusted");
    expect((await call(reg, "POST", "/api/v1/trust/revoke", pair)).body.status).toBe("revoked");
    expect((await call(reg, "GET", "/api/v1/trust/trusted/inst-c")).body.trusted).toEqual([]);
    expect((await call(reg, "POST", "/api/v1/trust/block", pair)).body.status).toBe("blocked");
    expect((await request()).status).toBe(403);
    expect((await call(reg, "POST", "/api/v1/trust/request", { ...pair, introduction: "" })).status).toBe(
      422,
    );
  });
});

describe("mock Agent Registry with a key and a short offline window", () => {
  let keyed: MockRegistry;
  beforeAll(async () => {
    keyed = await startMockRegistry({ apiKey: "reg-key-123", offlineAfterMs: 200 });
  });
  afterAll(() => keyed.close());
  const key = { "x-registry-key": "reg-key-123" };

  it("answers 401 without the right key, on every /api/v1 route", async () => {
    for (const headers of [{}, { "x-registry-key": "wrong" }] as Array<Record<string, string>>) {
      const r = await call(keyed, "GET", "/api/v1/agents/", undefined, headers);
      expect(r).toMatchObject({ status: 401, body: { detail: "Invalid or missing registry key" } });
    }
    expect((await call(keyed, "POST", "/api/v1/trust/request", {})).status).toBe(401);
    expect((await call(keyed, "GET", "/api/v1/agents/", undefined, key)).status).toBe(200);
    const seen = (await call(keyed, "GET", "/_control/registry/requests")).body.requests;
    expect(seen.map((r: any) => r.headers["x-registry-key"])).toEqual([false, true, false, true]);
  });

  it("leaves offline agents out of search and by-hostname, but still lists and gets them", async () => {
    const { body } = await call(keyed, "POST", "/api/v1/agents/", { hostname: "sleepy" }, key);
    const byHost = () => call(keyed, "GET", "/api/v1/agents/by-hostname/sleepy", undefined, key);
    expect((await byHost()).status).toBe(200);
    await sleep(300);
    expect((await byHost()).status).toBe(404);
    expect((await call(keyed, "GET", "/api/v1/agents/search?q=sleepy", undefined, key)).body).toEqual({
      agents: [],
      total: 0,
    });
    expect((await call(keyed, "GET", `/api/v1/agents/${body.id}`, undefined, key)).status).toBe(200);
    const all = (await call(keyed, "GET", "/_control/registry/agents")).body.agents;
    expect(all).toMatchObject([{ hostname: "sleepy", online: false }]);
    await call(keyed, "POST", `/api/v1/agents/${body.id}/heartbeat`, undefined, key);
    expect((await byHost()).status).toBe(200);
  });
});
