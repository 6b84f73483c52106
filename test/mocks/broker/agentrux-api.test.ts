// biome-ignore-all lint/suspicious/noExplicitAny: the tests read deep paths of plain JSON
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGrants } from "./agentrux-api.ts";
import { type MockBroker, startBrokerWithScript, startMockBroker } from "./server.ts";

// The mock AgenTrux API honours the contract of EXTERNAL-APIS.md section 1.

let broker: MockBroker;
let script: { id: string; secret: string };
beforeAll(async () => {
  ({ broker, script } = await startBrokerWithScript());
});
afterAll(() => broker.close());

const call = async (method: string, p: string, body?: unknown, token?: string) => {
  const res = await fetch(`${broker.url}${p}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, any> };
};
const tokens = async () =>
  (await call("POST", "/auth/token", { script_id: script.id, client_secret: script.secret })).body;

describe("mock AgenTrux API", () => {
  it("issues JWTs, rotates single-use refresh tokens, and refuses expired or forged ones", async () => {
    const t = await tokens();
    expect(t.access_token.split(".")).toHaveLength(3);
    const r1 = await call("POST", "/auth/refresh", { refresh_token: t.refresh_token });
    expect(r1.status).toBe(200);
    expect((await call("POST", "/auth/refresh", { refresh_token: t.refresh_token })).status).toBe(401);
    expect((await call("GET", "/topics/cmd/events", undefined, `${t.access_token}x`)).status).toBe(401);
    expect(
      (await call("POST", "/auth/token", { script_id: script.id, client_secret: "wrong" })).body.error.code,
    ).toBe("invalid_client");
    await call("POST", "/_control/agentrux/expire-tokens");
    expect((await call("GET", "/topics/cmd/events", undefined, r1.body.access_token)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1100));
  });

  it("publishes with per-topic sequence numbers, enforces grants, and pages reads", async () => {
    const { access_token } = await tokens();
    for (let i = 0; i < 3; i++)
      await call("POST", "/_control/agentrux/topics/cmd/publish", {
        type: "openclaw.request",
        payload: { request_id: `r${i}`, message: "hi" },
      });
    const page = await call("GET", "/topics/cmd/events?after_sequence_no=1&limit=1", undefined, access_token);
    expect(page.body.items).toMatchObject([
      { sequence_no: 2, type: "openclaw.request", payload: { request_id: "r1" } },
    ]);
    expect((await call("POST", "/topics/cmd/events", { type: "x", payload: {} }, access_token)).status).toBe(
      403,
    );
    expect(
      (
        await call(
          "POST",
          "/topics/res/events",
          { type: "openclaw.response", payload: { request_id: "r0" } },
          access_token,
        )
      ).status,
    ).toBe(200);
    expect((await call("GET", "/_control/agentrux/topics/res/events")).body.items).toHaveLength(1);
  });

  it("sends SSE hints on publish, and can cut the streams", async () => {
    const { access_token } = await tokens();
    const ac = new AbortController();
    const res = await fetch(`${broker.url}/topics/cmd/events/stream`, {
      headers: { authorization: `Bearer ${access_token}` },
      signal: ac.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the opening comment
    await call("POST", "/_control/agentrux/topics/cmd/publish", { type: "openclaw.request", payload: {} });
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('data: {"topic_id":"cmd"}');
    expect((await call("POST", "/_control/agentrux/cut-streams")).body.cut).toBe(1);
    await expect(reader.read()).rejects.toThrow();
  });

  it("serves presigned upload and download URLs itself, and injects failures on demand", async () => {
    const { access_token } = await tokens();
    const p = (
      await call(
        "POST",
        "/topics/res/payloads",
        { content_type: "text/plain", filename: "a.txt", size: 5 },
        access_token,
      )
    ).body;
    expect((await fetch(p.upload_url, { method: "PUT", body: "hello" })).status).toBe(200);
    expect(await (await fetch(p.download_url)).text()).toBe("hello");
    expect((await fetch(p.download_url.replace(/sig=.*/, "sig=forged"))).status).toBe(403);
    await call("POST", "/_control/agentrux/fail-next", { status: 502, count: 1, path: "/topics" });
    expect((await call("GET", "/topics/cmd/events", undefined, access_token)).status).toBe(502);
    expect((await call("GET", "/topics/cmd/events", undefined, access_token)).status).toBe(200);
    expect(broker.agentrux.calls.get("GET /topics/{id}/events")).toBeGreaterThanOrEqual(3);
  });
});

describe("mock AgenTrux API with a preset script", () => {
  it("activates the preset code once, with the preset grants, and names a bad grant", async () => {
    const code = "ac_preset-code-0123456789abcdef";
    const b = await startMockBroker({
      agentrux: { preset: { grants: parseGrants("a.cmd:read,a.res:write"), activationCode: code } },
    });
    try {
      const activate = () =>
        fetch(`${b.url}/auth/activate`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ activation_code: code }),
        });
      const first = await activate();
      expect(first.status).toBe(200);
      const body = (await first.json()) as { grants: Array<{ topic_id: string; action: string }> };
      expect(body.grants.map((g) => `${g.topic_id}:${g.action}`)).toEqual(["a.cmd:read", "a.res:write"]);
      expect((await activate()).status).toBe(409);
    } finally {
      await b.close();
    }
    expect(() => parseGrants("a.cmd:read,a.res")).toThrow(/"a.res" is not <topic>:read or <topic>:write/);
  });

  it("speaks the live control plane: act_ codes redeemed once, /oauth/token only as a client_credentials form", async () => {
    const code = broker.agentrux.book.issueCode(script.id, 1, `act_${"k".repeat(43)}`);
    expect((await call("POST", "/auth/activate", { activation_code: code })).status).toBe(400);
    const r = await call("POST", "/auth/redeem-activation-code", { code });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      client_id: expect.stringMatching(/^crd_/),
      client_secret: script.secret,
      script_id: script.id,
    });
    expect((await call("POST", "/auth/redeem-activation-code", { code })).body.error.code).toBe("code_used");
    const form = (fields: Record<string, string>) =>
      fetch(`${broker.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
    const ok = await form({
      grant_type: "client_credentials",
      client_id: r.body.client_id,
      client_secret: script.secret,
    });
    const t = (await ok.json()) as Record<string, any>;
    expect(t).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
    expect(t.refresh_token).toBeUndefined();
    expect((await call("GET", "/topics/cmd/events", undefined, t.access_token)).status).toBe(200);
    expect(
      (await form({ grant_type: "password", client_id: r.body.client_id, client_secret: script.secret }))
        .status,
    ).toBe(400);
    expect(
      (await form({ grant_type: "client_credentials", client_id: r.body.client_id, client_secret: "no" }))
        .status,
    ).toBe(401);
    expect((await call("POST", "/oauth/token", { grant_type: "client_credentials" })).status).toBe(415);
  });

  it("answers a pull without a cursor with the newest events, as the real service does", async () => {
    for (let i = 0; i < 25; i++)
      await call("POST", "/_control/agentrux/topics/feed/publish", { type: "t", payload: { i } });
    const t = await tokens();
    broker.agentrux.book.scripts
      .get(script.id)
      ?.grants.push({ grant_id: "gr_f", topic_id: "feed", action: "read" });
    const latest = await call("GET", "/topics/feed/events?limit=20", undefined, t.access_token);
    expect(latest.body.items.map((e: any) => e.payload.i)).toEqual(
      Array.from({ length: 20 }, (_, k) => k + 5),
    );
    const first = await call(
      "GET",
      "/topics/feed/events?after_sequence_no=0&limit=3",
      undefined,
      t.access_token,
    );
    expect(first.body.items.map((e: any) => e.payload.i)).toEqual([0, 1, 2]);
  });

  it("answers top_ topics the live way: seed-shaped publishes refused, FastAPI errors, bounded queries", async () => {
    const s = broker.agentrux.book.createScript([
      { topic_id: "top_m1", action: "write" },
      { topic_id: "top_m1", action: "read" },
    ]);
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: s.clientId,
      client_secret: s.secret,
    });
    const t = (await (
      await fetch(`${broker.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      })
    ).json()) as { access_token: string; expires_in: number };
    expect(t.expires_in).toBeGreaterThan(0);
    const seedShaped = await call(
      "POST",
      "/topics/top_m1/events",
      { type: "x", payload: {} },
      t.access_token,
    );
    expect(seedShaped.status).toBe(422);
    expect(seedShaped.body.detail).toMatchObject({ error: "VALIDATION_ERROR" });
    const ok = await call(
      "POST",
      "/topics/top_m1/events",
      { event_type: "x", payload: { a: 1 } },
      t.access_token,
    );
    expect(ok).toMatchObject({ status: 201, body: { event_id: expect.stringMatching(/^evt_/) } });
    expect((await call("GET", "/topics/top_m1/events?limit=101", undefined, t.access_token)).status).toBe(
      422,
    );
    expect((await call("GET", "/topics/top_m1/events?order=up", undefined, t.access_token)).status).toBe(422);
    const mine = await call("GET", "/topics/top_m1/events?exclude_self=true", undefined, t.access_token);
    expect(mine.body).toMatchObject({ events: [], next: { after: null, has_more: false } });
    const page = await call("GET", "/topics/top_m1/events?limit=1", undefined, t.access_token);
    expect(page.body.events[0]).toMatchObject({
      event_id: ok.body.event_id,
      event_type: "x",
      topic_id: "top_m1",
    });
    expect(
      (await call("GET", "/topics/top_m1/events?after=evt_never", undefined, t.access_token)).status,
    ).toBe(404);
    expect((await call("GET", "/topics/top_m1/events", undefined, "nope")).body.detail.error).toBe(
      "UNAUTHORIZED",
    );
  });
});
