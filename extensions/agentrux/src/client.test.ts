import { Backoff } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import { AgentruxClient, USER_AGENT } from "./client.ts";

let broker: MockBroker;
let script: { id: string; secret: string };
beforeAll(async () => {
  ({ broker, script } = await startBrokerWithScript());
});
afterAll(() => broker.close());

const client = () =>
  new AgentruxClient({
    baseUrl: broker.url,
    scriptId: script.id,
    clientSecret: script.secret,
    backoff: new Backoff({ initialMs: 5, maxMs: 10 }),
    authBackoff: new Backoff({ initialMs: 200, maxMs: 400, jitter: 0 }),
  });
const control = (p: string, body: unknown = {}) =>
  fetch(`${broker.url}/_control/agentrux${p}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("AgenTrux client", () => {
  it("acquires one token for 20 concurrent calls", async () => {
    const c = client();
    await control("/topics/cmd/publish", { type: "openclaw.request", payload: { message: "x" } });
    const pages = await Promise.all(Array.from({ length: 20 }, () => c.read("cmd", 0)));
    expect(pages.every((p) => p.length >= 1)).toBe(true);
    expect(c.tokenCalls).toBe(1);
  });

  it("on 401 refreshes once (compare-and-clear) and falls back to /auth/token when the refresh token is dead", async () => {
    const c = client();
    await c.read("cmd", 0);
    await control("/expire-tokens");
    await new Promise((r) => setTimeout(r, 1100)); // tokens of the next second are valid again
    const before = c.tokenCalls;
    await Promise.all(Array.from({ length: 5 }, () => c.read("cmd", 0)));
    expect(c.tokenCalls - before).toBe(1); // one refresh served all five
    // Kill the refresh token behind the client's back: it falls back to /auth/token.
    for (const r of broker.agentrux.book.refresh.values()) r.used = true;
    await control("/expire-tokens");
    await new Promise((r) => setTimeout(r, 1100));
    const mid = c.tokenCalls;
    expect((await c.read("cmd", 0)).length).toBeGreaterThan(0);
    expect(c.tokenCalls - mid).toBe(2); // refresh refused, then token
  });

  it("retries 5xx a bounded number of times, and names the failure", async () => {
    const c = client();
    await control("/fail-next", { status: 503, count: 2, path: "/topics" });
    expect(await c.publish("res", { type: "openclaw.response", payload: { request_id: "r" } })).toMatch(
      /^ev_/,
    );
    await control("/fail-next", { status: 502, count: 10, path: "/topics" });
    await expect(c.read("cmd", 0)).rejects.toMatchObject({
      code: "AGENTRUX_ERR_UNAVAILABLE",
      message: expect.stringMatching(/failed after 4 attempts \(last: 502\)/),
    });
    await control("/fail-next", { status: 502, count: 0 });
    await expect(c.publish("cmd", { type: "x", payload: {} })).rejects.toMatchObject({
      code: "AGENTRUX_ERR_FORBIDDEN",
    });
  });

  it("takes a token answer without refresh_token and expires_at, then gets the next from /auth/token", async () => {
    await control("/token-answer", { minimal: true });
    try {
      const c = client();
      expect(await c.read("cmd", 0)).not.toHaveLength(0);
      await control("/expire-tokens");
      await new Promise((r) => setTimeout(r, 1100));
      const before = broker.agentrux.calls.get("POST /auth/refresh") ?? 0;
      expect(await c.read("cmd", 0)).not.toHaveLength(0);
      expect(broker.agentrux.calls.get("POST /auth/refresh") ?? 0).toBe(before); // nothing to refresh with
      expect(c.tokenCalls).toBe(2);
    } finally {
      await control("/token-answer", { minimal: false });
    }
  });

  it("re-acquires at most once per call on 401, then backs off instead of refreshing again", async () => {
    const c = client();
    await c.read("cmd", 0);
    const before = c.tokenCalls;
    await control("/fail-next", { status: 401, count: 20, path: "/topics" });
    await expect(c.read("cmd", 0)).rejects.toMatchObject({ code: "AGENTRUX_ERR_UNAUTHORIZED" });
    expect(c.tokenCalls - before).toBe(1);
    // Within the delay no token call at all, however many calls are made.
    for (let i = 0; i < 5; i++)
      await expect(c.read("cmd", 0)).rejects.toMatchObject({
        code: "AGENTRUX_ERR_UNAUTHORIZED",
        message: expect.stringMatching(/next attempt in \d+ s/),
      });
    expect(c.tokenCalls - before).toBe(1);
    await control("/fail-next", { status: 401, count: 0 });
    await new Promise((r) => setTimeout(r, 250));
    expect((await c.read("cmd", 0)).length).toBeGreaterThan(0);
    expect(c.tokenCalls - before).toBe(2);
  });

  it("publishes once when the broker stored the event but answered 5xx (idempotency key on retry)", async () => {
    const c = client();
    const count = async () =>
      (
        (await (await fetch(`${broker.url}/_control/agentrux/topics/res/events`)).json()) as {
          items: unknown[];
        }
      ).items.length;
    const before = await count();
    await control("/fail-next", { status: 503, count: 1, path: "/topics/res/events", after: true });
    const id = await c.publish("res", { type: "openclaw.response", payload: { request_id: "once" } });
    expect(id).toMatch(/^ev_/);
    expect(await count()).toBe(before + 1);
    expect(broker.agentrux.calls.get("POST /topics/{id}/events")).toBeGreaterThanOrEqual(2);
  });

  it("speaks the live control plane: /oauth/token as a form with client_credentials, a User-Agent", async () => {
    const s = broker.agentrux.book.createScript([{ topic_id: "top_cp", action: "read" }]);
    await control("/topics/top_cp/publish", { type: "openclaw.request", payload: { message: "x" } });
    const c = new AgentruxClient({
      baseUrl: broker.url,
      generation: "live",
      clientId: s?.clientId,
      clientSecret: s.secret,
    });
    const before = broker.agentrux.calls.get("POST /oauth/token") ?? 0;
    expect((await c.read("top_cp", "")).length).toBeGreaterThan(0);
    expect(broker.agentrux.calls.get("POST /oauth/token")).toBe(before + 1);
    expect(broker.agentrux.userAgents.has(USER_AGENT)).toBe(true);
    const wrong = new AgentruxClient({
      baseUrl: broker.url,
      generation: "live",
      clientId: s?.clientId,
      clientSecret: "cs_wrong",
    });
    await expect(wrong.token()).rejects.toMatchObject({
      code: "AGENTRUX_ERR_UNAUTHORIZED",
      message: "the broker refused the client's credentials (401)",
    });
    expect(
      () =>
        new AgentruxClient({
          baseUrl: broker.url,
          generation: "live",
          scriptId: script.id,
          clientSecret: "x",
        }),
    ).toThrow("the live API needs a client_id in the credentials");
  });
});
