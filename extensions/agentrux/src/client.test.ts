import { Backoff } from "@openclaw-bundle/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import { AgentruxClient } from "./client.ts";

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
});
