/**
 * An outside AgenTrux client for the tests, through the mock broker's control API: publish an
 * `openclaw.request` on a command topic, wait for the `openclaw.response` with its request id on a
 * result topic. The transport is a function so the same steps run against a broker in this process
 * (HTTP to its URL) and against the one in a container (`docker exec` into it).
 */
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

export async function awaitResponse(
  control: BrokerControl,
  topic: string,
  requestId: string,
  ms = 60_000,
): Promise<ResponsePayload> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const r = (await responses(control, topic)).find((p) => p.request_id === requestId);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`no openclaw.response to ${requestId} on ${topic} within ${ms} ms`);
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
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    const s = await status();
    if (s.waterline !== undefined) return;
    last = JSON.stringify(s);
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`the AgenTrux channel did not start within ${ms} ms: ${last}`);
}
