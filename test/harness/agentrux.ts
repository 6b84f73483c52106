/**
 * An outside AgenTrux client for the tests, through the mock broker's control API: publish an
 * `openclaw.request` on a command topic, wait for the `openclaw.response` with its request id on a
 * result topic. The transport is a function so the same steps run against a broker in this process
 * (HTTP to its URL) and against the one in a container (`docker exec` into it).
 */
import { waitFor } from "./wait.ts";

export type BrokerControl = (path: string, body?: unknown) => Promise<unknown>;

export interface ResponsePayload {
  request_id: string;
  status: string;
  message: string;
}

/** Control calls over HTTP to a broker this process can reach. */
export function httpControl(brokerUrl: string): BrokerControl {
  return async (p, body) => {
    const res = await fetch(`${brokerUrl}/_control/agentrux${p}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`broker control ${p}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
}

export async function publishRequest(
  control: BrokerControl,
  topic: string,
  requestId: string,
  message: string,
  conversationKey = "c1",
): Promise<void> {
  await control(`/topics/${encodeURIComponent(topic)}/publish`, {
    type: "openclaw.request",
    payload: { request_id: requestId, conversation_key: conversationKey, message },
  });
}

export async function responses(control: BrokerControl, topic: string): Promise<ResponsePayload[]> {
  const { items } = (await control(`/topics/${encodeURIComponent(topic)}/events`)) as {
    items: Array<{ type: string; payload: ResponsePayload }>;
  };
  return items.filter((e) => e.type === "openclaw.response").map((e) => e.payload);
}

/** Waits for the `openclaw.response` to `requestId` on `topic` (a quiet machine's `ms`, scaled). */
export async function awaitResponse(
  control: BrokerControl,
  topic: string,
  requestId: string,
  ms = 60_000,
): Promise<ResponsePayload> {
  const found = await waitFor(
    `an openclaw.response to ${requestId} on ${topic}`,
    async () => (await responses(control, topic)).find((p) => p.request_id === requestId),
    (r) => r !== undefined,
    { ms },
  );
  return found as ResponsePayload;
}

/** How many times each broker route was called, e.g. `POST /auth/activate`. */
export async function brokerCalls(control: BrokerControl): Promise<Record<string, number>> {
  return (await control("/calls")) as Record<string, number>;
}

/**
 * Waits until a gateway's AgenTrux channel reads its command topic. A first start skips what was
 * published before it found the topic's newest event, so tests publish only after this.
 */
export async function awaitChannelUp(
  status: () => Promise<{ state: string; waterline?: number }>,
  ms = 60_000,
): Promise<void> {
  await waitFor("the AgenTrux channel to read its command topic", status, (s) => s.waterline !== undefined, {
    ms,
  });
}
