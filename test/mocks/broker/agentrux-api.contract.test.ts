import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postActivate } from "../../../extensions/agentrux/src/activation.ts";
import { AgentruxClient } from "../../../extensions/agentrux/src/client.ts";
import { HintStream } from "../../../extensions/agentrux/src/hints.ts";
import { uploadObject } from "../../../extensions/agentrux/src/objects.ts";
import { type Exchange, LIVE_EXCHANGES, SEED_EXCHANGES } from "../../contract/agentrux-exchanges.ts";
import { type Context, compare, recordingProxy, replay } from "../../contract/agentrux-run.ts";
import { cursorOf } from "./agentrux-live.ts";
import { LIVE_TOPICS, type MockBroker, startMockBroker } from "./server.ts";

// The mock broker and the project's client held to what the official plugin sends and reads, for
// both generations (test/contract/agentrux-exchanges.ts names the source file and commit of each
// exchange): the script is replayed against the mock as the real client sends it, and the
// project's client, run through a recording proxy, must send nothing the real client would not
// and everything marked as shared, the same way. Any divergence fails, naming the step.

let broker: MockBroker;
beforeAll(async () => {
  broker = await startMockBroker();
});
afterAll(() => broker?.close());

const control = async (p: string, body: unknown) =>
  (await (
    await fetch(`${broker.url}/_control/agentrux${p}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    })
  ).json()) as Record<string, unknown>;

/** A script on `command`/`result`, an evicted first event, 25 more, two codes (one per run). */
async function setUp(command: string, result: string, live: boolean): Promise<Context & { codes: string[] }> {
  const s = broker.agentrux.book.createScript([
    { topic_id: command, action: "read" },
    { topic_id: result, action: "write" },
    { topic_id: result, action: "read" },
  ]);
  const codes = [0, 1].map(() =>
    broker.agentrux.book.issueCode(s.id, 1, live ? `act_${crypto.randomUUID()}` : undefined),
  );
  const publish = (n: number) =>
    control(`/topics/${command}/publish`, {
      type: "openclaw.request",
      payload: { request_id: `r${n}`, message: `m${n}` },
      ...(live ? { metadata: { correlation_id: `c${n}` } } : {}),
    });
  const evicted = (await publish(0)).event_id as string;
  let newest = "";
  for (let i = 1; i <= 25; i++) newest = (await publish(i)).event_id as string;
  if (live) await control(`/topics/${command}/evict`, { count: 1 });
  const first = live ? broker.agentrux.book.topics.get(command)?.[0]?.event_id : undefined;
  // The live cursor as the mock hands it out; the script also keeps it from its own pulls.
  const firstCursor = first ? cursorOf(first) : undefined;
  return { command, result, code: codes[0], codes, newest, evictedId: evicted, firstCursor };
}

async function streamOnce(
  client: AgentruxClient,
  request: () => { url: string; headers?: Record<string, string> },
) {
  let opened!: () => void;
  const open = new Promise<void>((r) => {
    opened = r;
  });
  const s = new HintStream({ request, client, onHint: () => {}, onOpen: () => opened(), onState: () => {} });
  s.start();
  await Promise.race([open, new Promise((r) => setTimeout(r, 5000))]);
  await s.stop();
}

const report = (out: string[]) => expect(out, out.join("\n")).toEqual([]);

describe.each([
  ["seed (plugin 0.14.5)", SEED_EXCHANGES, "cmd-contract", "res-contract", false],
  ["live (plugin 1.1.0)", LIVE_EXCHANGES, `${LIVE_TOPICS.command}-k`, `${LIVE_TOPICS.result}-k`, true],
] as Array<[string, Exchange[], string, string, boolean]>)(
  "AgenTrux contract, %s",
  (_n, script, command, result, live) => {
    let ctx: Context & { codes: string[] };
    beforeAll(async () => {
      ctx = await setUp(command, result, live);
    });

    it("the mock broker answers every exchange as the real client needs", async () => {
      report(await replay(broker.url, script, ctx));
    });

    it("the project's client sends what the real client sends, and reads the mock's answers", async () => {
      const proxy = await recordingProxy(broker.url);
      try {
        const a = await postActivate(proxy.url, ctx.codes[1] as string);
        if (a.kind !== "ok") throw new Error(`activation: ${JSON.stringify(a)}`);
        const c = new AgentruxClient({
          baseUrl: proxy.url,
          generation: live ? "live" : "seed",
          scriptId: a.credentials.script_id,
          clientId: (a.credentials as { client_id?: string }).client_id,
          clientSecret: a.credentials.client_secret,
        });
        await c.publish(result, {
          type: "openclaw.response",
          payload: { request_id: "p1" },
          correlation_id: "c1",
        });
        if (live) {
          expect(await c.head(command, { excludeSelf: true })).toBe(cursorOf(ctx.newest as string));
          const page = await c.read(command, ctx.firstCursor as string, 50, { excludeSelf: true });
          expect(page.at(-1)?.event_id).toBe(ctx.newest);
          await expect(
            c.read(command, ctx.evictedId as string, 20, { excludeSelf: true }),
          ).rejects.toMatchObject({
            code: "AGENTRUX_ERR_CURSOR_EXPIRED",
          });
        } else {
          await c.publish(result, {
            type: "message.request",
            payload: { text: "hi" },
            correlation_id: "c2",
            reply_topic: result,
          });
          expect((await c.read(command, 0, 20)).length).toBe(20);
        }
        const up = await uploadObject(c, result, Buffer.from("hello"), "a.txt", "text/plain");
        expect(await (await fetch(up.download_url as string)).text()).toBe("hello");
        await streamOnce(c, () => c.streamRequest(command, live ? (ctx.firstCursor as string) : 0));
        report(compare(proxy.seen, script));
      } finally {
        await proxy.close();
      }
    });
  },
);
