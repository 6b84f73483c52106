import { describe, expect, it } from "vitest";
import {
  attachmentWire,
  fitsGeneration,
  parseDownload,
  parsePage,
  parseUploadPlan,
  publishBody,
  pullPath,
  streamRequest,
  ttlExpired,
} from "./wire.ts";

// The two generations' data plane as pure mappings: what is sent, and what an answer must hold.

describe("AgenTrux wire mappings", () => {
  it("pulls by sequence number (seed) and by event cursor with order and exclude_self (live)", () => {
    expect(pullPath("seed", "cmd", { after: 7, limit: 20 })).toBe(
      "/topics/cmd/events?after_sequence_no=7&limit=20",
    );
    expect(pullPath("live", "top_a", { after: "evt_1", limit: 20, excludeSelf: true })).toBe(
      "/topics/top_a/events?limit=20&order=asc&after=evt_1&exclude_self=true",
    );
    // The start of a live topic is no `after` at all; a bare uuid gets its top_ prefix.
    expect(pullPath("live", "6f1c", { after: "", limit: 1, newest: true })).toBe(
      "/topics/top_6f1c/events?limit=1&order=desc",
    );
  });

  it("maps both pages onto one event shape, the live cursor as the position", () => {
    expect(
      parsePage("seed", {
        items: [{ event_id: "ev_1", sequence_no: 3, type: "t", payload: {}, correlation_id: "c" }],
      }),
    ).toEqual([{ event_id: "ev_1", position: 3, type: "t", payload: {}, correlation_id: "c" }]);
    const live = parsePage("live", {
      events: [
        {
          event_id: "evt_1",
          topic_id: "top_a",
          event_type: "message.request",
          stored_at: "2026-06-01T00:00:00Z",
          payload: { text: "hi" },
          payload_object_id: null,
          metadata: { correlation_id: "msg-1", reply_topic: "top_b" },
          cursor: "cur1.x",
        },
        { event_id: "evt_2", payload: null },
      ],
      next: { after: "cur1.x", has_more: false },
    });
    expect(live?.[0]).toMatchObject({
      position: "cur1.x",
      type: "message.request",
      correlation_id: "msg-1",
      reply_topic: "top_b",
    });
    // No cursor: the event id resumes; no event_type: the server's default.
    expect(live?.[1]).toMatchObject({ position: "evt_2", type: "user.event" });
    // Each generation's page is refused by the other's reader.
    expect(parsePage("live", { items: [] })).toBeUndefined();
    expect(parsePage("seed", { events: [] })).toBeUndefined();
  });

  it("recognises the ttl_expired 404 in the FastAPI wrap and bare, and nothing else", () => {
    const wrapped = {
      detail: {
        error: "NOT_FOUND",
        message: "after cursor refers to a TTL-expired event",
        details: { reason: "ttl_expired", oldest_available_evt_id: "evt_9" },
        next_action: "cursor_advance",
      },
    };
    expect(ttlExpired(404, wrapped)).toEqual({ oldest: "evt_9" });
    expect(ttlExpired(404, { next_action: "cursor_advance", details: {} })).toEqual({ oldest: null });
    expect(ttlExpired(404, { detail: { error: "NOT_FOUND", message: "topic gone" } })).toBeUndefined();
    expect(ttlExpired(500, wrapped)).toBeUndefined();
    expect(ttlExpired(404, "ttl_expired")).toBeUndefined();
  });

  it("publishes seed fields at the root and live ones folded into metadata", () => {
    const e = { type: "openclaw.request", payload: { m: 1 }, correlation_id: "c", reply_topic: "r" };
    expect(publishBody("seed", e)).toEqual(e);
    expect(publishBody("live", e)).toEqual({
      event_type: "openclaw.request",
      payload: { m: 1 },
      metadata: { correlation_id: "c", reply_topic: "r" },
    });
    expect(publishBody("live", { type: "x", payload_object_id: "pob_1", metadata: { a: 1 } })).toEqual({
      event_type: "x",
      metadata: { a: 1 },
      payload_object_id: "pob_1",
    });
  });

  it("resumes SSE by query (seed) and by the Last-Event-ID header (live)", () => {
    expect(streamRequest("seed", "cmd", 4)).toEqual({
      path: "/topics/cmd/events/stream?after_sequence_no=4",
      headers: {},
    });
    expect(streamRequest("live", "top_a", "cur1.x")).toEqual({
      path: "/topics/top_a/events/stream?exclude_self=true",
      headers: { "last-event-id": "cur1.x" },
    });
    expect(streamRequest("live", "top_a", "").headers).toEqual({});
  });

  it("plans uploads from each generation's answer; the live PUT carries the signed headers", () => {
    expect(
      parseUploadPlan(
        "live",
        {
          payload_object_id: "pob_1",
          presigned_put_url: "https://s3.example/obj?X-Amz-Signature=1",
          required_headers: { "Content-Type": "image/png", "x-amz-checksum-sha256": "abc" },
        },
        "image/png",
      ),
    ).toEqual({
      objectId: "pob_1",
      putUrl: "https://s3.example/obj?X-Amz-Signature=1",
      putHeaders: { "Content-Type": "image/png", "x-amz-checksum-sha256": "abc" },
    });
    expect(parseUploadPlan("live", { object_id: "o", upload_url: "https://x/y" }, "a/b")).toBeUndefined();
    expect(parseUploadPlan("seed", { object_id: "o", upload_url: "https://x/y" }, "a/b")).toMatchObject({
      objectId: "o",
      putHeaders: { "content-type": "a/b" },
    });
    expect(parseDownload("live", { presigned_get_url: "https://x/get" })).toBe("https://x/get");
    expect(parseDownload("seed", { presigned_get_url: "https://x/get" })).toBeUndefined();
    expect(parseDownload("live", { presigned_get_url: "file:///etc/passwd" })).toBeUndefined();
  });

  it("names attachments per generation and keeps each generation's cursor kind apart", () => {
    const a = { name: "f", object_id: "pob_1", content_type: "t", size: 1, download_url: "https://x" };
    expect(attachmentWire("live", a)).toEqual({
      name: "f",
      payload_object_id: "pob_1",
      content_type: "t",
      size: 1,
      presigned_get_url: "https://x",
    });
    expect(attachmentWire("seed", a)).toEqual(a);
    expect(fitsGeneration("seed", 3)).toBe(true);
    expect(fitsGeneration("seed", "evt_1")).toBe(false);
    expect(fitsGeneration("live", "evt_1")).toBe(true);
    expect(fitsGeneration("live", 3)).toBe(false);
  });
});
