import { createHash } from "node:crypto";
import { type AgentruxClient, agentruxError } from "./client.ts";
import { parseDownload, parseUploadPlan, topicPath, uploadRequest } from "./wire.ts";

/**
 * Objects on a topic (EXTERNAL-APIS.md sections 1 and 1b): stored through a presigned PUT, read
 * through a presigned GET, on either generation through the one client.
 */

/** The event that commits an uploaded object on the live service (EXTERNAL-APIS.md section 1b). */
export const COMMIT_EVENT_TYPE = "openclaw.attachment";

/** Presigned URL of an object on a topic (live: only once an event committed it). */
export async function downloadUrl(client: AgentruxClient, topic: string, objectId: string): Promise<string> {
  const g = client.generation;
  const url = parseDownload(
    g,
    await client.call("GET", `${topicPath(g, topic)}/payloads/${encodeURIComponent(objectId)}`),
  );
  if (!url) throw agentruxError("BAD_RESPONSE", "payload lookup answered without a download URL");
  return url;
}

interface Uploaded {
  object_id: string;
  /** Absent when a live topic may be written but not read by this client. */
  download_url?: string;
}

/**
 * Registers the object on the topic and PUTs the bytes to the presigned URL. The live service
 * keeps an object pending until an event names it (`payload_object_id`): that event is published
 * here (type `openclaw.attachment`), after which the object can be read.
 */
export async function uploadObject(
  client: AgentruxClient,
  topic: string,
  bytes: Uint8Array,
  filename: string,
  contentType: string,
): Promise<Uploaded> {
  const g = client.generation;
  const sha256Base64 = createHash("sha256").update(bytes).digest("base64");
  const plan = parseUploadPlan(
    g,
    await client.call(
      "POST",
      `${topicPath(g, topic)}/payloads`,
      uploadRequest(g, { size: bytes.byteLength, contentType, filename, sha256Base64 }),
    ),
    contentType,
  );
  if (!plan) throw agentruxError("BAD_RESPONSE", `payload registration did not match the ${g} contract`);
  const put = await fetch(plan.putUrl, {
    method: "PUT",
    headers: plan.putHeaders,
    body: bytes,
    signal: AbortSignal.timeout(120_000),
  });
  await put.body?.cancel();
  if (!put.ok) throw agentruxError("REQUEST", `upload of ${filename} answered ${put.status}`);
  if (g === "live")
    await client.publish(topic, {
      type: COMMIT_EVENT_TYPE,
      payload_object_id: plan.objectId,
      metadata: { filename, content_type: contentType, size_bytes: bytes.byteLength },
    });
  if (plan.downloadUrl) return { object_id: plan.objectId, download_url: plan.downloadUrl };
  try {
    return { object_id: plan.objectId, download_url: await downloadUrl(client, topic, plan.objectId) };
  } catch (err) {
    // Write without read on the topic: the receiver looks the object up by its id, as the 1.1.0
    // plugin's attachments (no URL) expect.
    if (g === "live" && (err as { code?: unknown }).code === "AGENTRUX_ERR_FORBIDDEN")
      return { object_id: plan.objectId };
    throw err;
  }
}
