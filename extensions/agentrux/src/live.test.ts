import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Backoff } from "@openclaw-bundle/shared";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  LIVE_TOPICS,
  type MockBroker,
  startBrokerWithLiveScript,
} from "../../../test/mocks/broker/server.ts";
import { AgentruxClient } from "./client.ts";
import { HintStream } from "./hints.ts";
import { Ingress } from "./ingress.ts";
import { downloadUrl, uploadObject } from "./objects.ts";
import { fitsGeneration, type Position } from "./wire.ts";

// The project's client on the live generation (plugin 1.1.0) against the mock broker's live data
// plane: top_ topics, cursors, metadata, exclude_self, ttl_expired, Last-Event-ID, upload commit.

let broker: MockBroker;
let script: { id: string; secret: string; clientId: string };
const { command: CMD, result: RES } = LIVE_TOPICS;
beforeAll(async () => {
  ({ broker, script } = await startBrokerWithLiveScript());
});
afterAll(() => broker.close());

const client = () =>
  new AgentruxClient({
    baseUrl: broker.url,
    generation: "live",
    clientId: script.clientId,
    clientSecret: script.secret,
    backoff: new Backoff({ initialMs: 5, maxMs: 10 }),
  });
const control = async (p: string, body: unknown = {}) =>
  (await fetch(`${broker.url}/_control/agentrux${p}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then((r) => r.json())) as Record<string, unknown>;
const outside = (topic: string, requestId: string) =>
  control(`/topics/${topic}/publish`, {
    type: "openclaw.request",
    payload: { request_id: requestId, message: requestId },
  });

describe("AgenTrux client, live API", () => {
  it("publishes with metadata and reads it back by cursor, leaving out its own events on request", async () => {
    const c = client();
    const start = await c.head(RES);
    const id = await c.publish(RES, {
      type: "openclaw.response",
      payload: { request_id: "r1" },
      correlation_id: "corr-1",
    });
    expect(id).toMatch(/^evt_/);
    const page = await c.read(RES, start, 10);
    expect(page.at(-1)).toMatchObject({ event_id: id, type: "openclaw.response", correlation_id: "corr-1" });
    expect(typeof page.at(-1)?.position).toBe("string");
    expect(await c.read(RES, start, 10, { excludeSelf: true })).toEqual([]);
    expect(await c.head(RES)).toBe(page.at(-1)?.position);
  });

  it("says CURSOR_EXPIRED, naming the oldest event kept, once the cursor aged out", async () => {
    const c = client();
    await outside(CMD, "old-1");
    const [first] = await c.read(CMD, c.start, 1);
    await outside(CMD, "kept-1");
    await control(`/topics/${CMD}/evict`, { count: 1 });
    const err = await c.read(CMD, first?.position as Position, 10).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "AGENTRUX_ERR_CURSOR_EXPIRED",
      details: { oldest: expect.stringMatching(/^evt_/) },
    });
  });

  it("the ingress reads again from the oldest kept event after ttl_expired: counted, logged, nothing kept is lost", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "live-ingress-"));
    const c = client();
    const seen: string[] = [];
    const told: Array<[Position, string | null]> = [];
    const make = () =>
      new Ingress({
        dir,
        topic: CMD,
        read: (t, after, limit) => c.read(t, after, limit, { excludeSelf: true }),
        head: (t) => c.head(t, { excludeSelf: true }),
        start: c.start,
        fits: (p): p is Position => fitsGeneration("live", p),
        onCursorExpired: (from, oldest) => told.push([from, oldest]),
        dispatch: async (ev) => void seen.push((ev.payload as { request_id: string }).request_id),
      });
    const first = make();
    await first.drain(); // first start: to the newest event
    await outside(CMD, "a1");
    await first.drain();
    expect(seen).toEqual(["a1"]);
    const saved = JSON.parse(await fs.readFile(path.join(dir, "waterline.json"), "utf8"));
    expect(typeof saved[CMD]).toBe("string"); // an event cursor, persisted across restarts
    // Offline: two more arrive, then everything up to and including a1 ages out.
    await outside(CMD, "a2");
    await outside(CMD, "a3");
    const list = broker.agentrux.book.topics.get(CMD) ?? [];
    const a2 = list.findIndex((e) => (e.payload as { request_id?: string }).request_id === "a2");
    await control(`/topics/${CMD}/evict`, { count: a2 });
    const second = make();
    await second.drain();
    await second.idle();
    expect(seen).toEqual(["a1", "a2", "a3"]);
    expect(second.counters.cursorExpired).toBe(1);
    expect(told[0]?.[1]).toMatch(/^evt_/);
  });

  it("uploads: register with size and checksum, PUT with the signed headers, commit by an event, then readable", async () => {
    const c = client();
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const up = await uploadObject(c, RES, bytes, "blob.bin", "application/octet-stream");
    expect(up.object_id).toMatch(/^pob_/);
    const got = await fetch(up.download_url as string);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    // The commit event names the object and describes it.
    const commit = (broker.agentrux.book.topics.get(RES) ?? []).find(
      (e) => e.payload_object_id === up.object_id,
    );
    expect(commit).toMatchObject({
      type: "openclaw.attachment",
      metadata: { filename: "blob.bin", size_bytes: 70_000 },
    });
    expect(await downloadUrl(c, RES, up.object_id)).toMatch(/\/_objects\/pob_/);
  });

  it("the mock keeps an object pending until an event commits it, and refuses a PUT that breaks the signature", async () => {
    const c = client();
    const reg = (await c.call("POST", `/topics/${RES}/payloads`, {
      size_bytes: 3,
      content_type: "text/plain",
      checksum_sha256: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", // sha256("abc")
    })) as { payload_object_id: string; presigned_put_url: string; required_headers: Record<string, string> };
    const bad = await fetch(reg.presigned_put_url, {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: "abc",
    });
    expect(bad.status).toBe(403); // the checksum header is part of the signature
    const put = await fetch(reg.presigned_put_url, {
      method: "PUT",
      headers: reg.required_headers,
      body: "abc",
    });
    expect(put.status).toBe(200);
    await expect(downloadUrl(c, RES, reg.payload_object_id)).rejects.toMatchObject({
      code: "AGENTRUX_ERR_NOT_FOUND",
    });
    await c.publish(RES, { type: "x", payload_object_id: reg.payload_object_id });
    expect(await downloadUrl(c, RES, reg.payload_object_id)).toMatch(/^http/);
  });

  it("resumes the hint stream with Last-Event-ID: what was published while it was down is hinted at once", async () => {
    const c = client();
    await outside(CMD, "h0");
    const at = await c.head(CMD);
    await outside(CMD, "h1");
    await outside(CMD, "h2");
    let hints = 0;
    stream = new HintStream({
      request: () => c.streamRequest(CMD, at),
      client: c,
      onHint: () => hints++,
      onOpen: () => undefined,
      onState: () => undefined,
      backoff: new Backoff({ initialMs: 20, maxMs: 40 }),
    });
    stream.start();
    const end = Date.now() + 5000;
    while (hints < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(hints).toBe(2);
  });
});

let stream: HintStream | undefined;
afterEach(async () => {
  await stream?.stop();
  stream = undefined;
});
