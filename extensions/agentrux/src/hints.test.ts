import { Backoff } from "@openclaw-bundle/shared";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import { AgentruxClient } from "./client.ts";
import { type HintState, HintStream } from "./hints.ts";

// The SSE hint stream against the mock broker over real HTTP.

let broker: MockBroker;
let script: { id: string; secret: string };
beforeAll(async () => {
  ({ broker, script } = await startBrokerWithScript());
});
afterAll(() => broker.close());

const control = (p: string, body: unknown = {}) =>
  fetch(`${broker.url}/_control/agentrux${p}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

let stream: HintStream | undefined;
afterEach(async () => {
  await stream?.stop();
  stream = undefined;
  await control("/split-hints", { split: false });
});

function open(client: AgentruxClient) {
  const seen = { hints: 0, states: [] as HintState[], errors: [] as string[] };
  stream = new HintStream({
    request: () => ({ url: `${broker.url}/topics/cmd/events/stream?after_sequence_no=0` }),
    client,
    onHint: () => seen.hints++,
    onOpen: () => undefined,
    onState: (s, e) => {
      seen.states.push(s);
      if (e) seen.errors.push(e);
    },
    backoff: new Backoff({ initialMs: 20, maxMs: 40 }),
  });
  stream.start();
  return seen;
}

const newClient = () =>
  new AgentruxClient({ baseUrl: broker.url, scriptId: script.id, clientSecret: script.secret });

describe("SSE hint stream", () => {
  it("sees a hint whose data: line arrives split across two TCP chunks", async () => {
    const seen = open(newClient());
    await until("open", () => seen.states.at(-1) === "open");
    await control("/split-hints", { split: true });
    await control("/topics/cmd/publish", { type: "openclaw.request", payload: { message: "a" } });
    await until("a hint", () => seen.hints === 1);
    await control("/topics/cmd/publish", { type: "openclaw.request", payload: { message: "b" } });
    await until("a second hint", () => seen.hints === 2);
  });

  it("drops the cached token on a 401 and reconnects with a fresh one", async () => {
    const client = newClient();
    await client.read("cmd", 0); // a token cached
    await control("/expire-tokens");
    await new Promise((r) => setTimeout(r, 1100)); // tokens of the next second are valid again
    const seen = open(client);
    await until("open", () => seen.states.at(-1) === "open");
    expect(seen.errors[0]).toMatch(/401; the access token was dropped/);
    expect(client.tokenCalls).toBe(2);
    await control("/topics/cmd/publish", { type: "openclaw.request", payload: { message: "c" } });
    await until("a hint", () => seen.hints === 1);
  });
});
