import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockBroker, startBrokerWithScript } from "../../../test/mocks/broker/server.ts";
import { describeInbound } from "./attachments.ts";
import { AgentruxClient } from "./client.ts";
import { uploadObject } from "./objects.ts";

// Inbound attachments against the mock broker: small text inlined, the rest passed as URLs.

let broker: MockBroker;
let client: AgentruxClient;
beforeAll(async () => {
  let script: { id: string; secret: string };
  ({ broker, script } = await startBrokerWithScript());
  // Files are put on the command topic, as the requesting client does.
  broker.agentrux.book.scripts
    .get(script.id)
    ?.grants.push({ grant_id: "gr_w", topic_id: "cmd", action: "write" });
  client = new AgentruxClient({ baseUrl: broker.url, scriptId: script.id, clientSecret: script.secret });
});
afterAll(() => broker.close());

const put = async (name: string, bytes: Uint8Array, contentType: string) => {
  const o = await uploadObject(client, "cmd", bytes, name, contentType);
  return { name, object_id: o.object_id, content_type: contentType };
};

describe("describeInbound", () => {
  it("inlines text up to 50 KB and links text over 50 KB and binary files by URL", async () => {
    const small = await put("small.txt", new TextEncoder().encode("hello small"), "text/plain");
    const big = await put("big.txt", new TextEncoder().encode("x".repeat(60 * 1024)), "text/plain");
    const binary = await put("blob.bin", new Uint8Array([0, 1, 2, 255, 254]), "application/octet-stream");
    const text = await describeInbound(client, "cmd", [small, big, binary]);
    expect(text).toContain("Attachment small.txt (text/plain):\nhello small");
    expect(text).toMatch(new RegExp(`Attachment big\\.txt \\(text/plain\\): ${broker.url}/_objects/\\S+`));
    expect(text).toMatch(
      new RegExp(`Attachment blob\\.bin \\(application/octet-stream\\): ${broker.url}/_objects/\\S+`),
    );
    expect(text).not.toContain("x".repeat(1024));
    // The link works: it serves the bytes that were uploaded.
    const url = text.match(/blob\.bin \(application\/octet-stream\): (\S+)/)?.[1] as string;
    expect(new Uint8Array(await (await fetch(url)).arrayBuffer())).toEqual(
      new Uint8Array([0, 1, 2, 255, 254]),
    );
  });

  it("says an attachment that is not on the topic is not available", async () => {
    const text = await describeInbound(client, "cmd", [
      { name: "gone.txt", object_id: "obj_missing", content_type: "text/plain" },
    ]);
    expect(text).toMatch(/^Attachment gone\.txt \(text\/plain\): not available \(.*404/);
  });
});
