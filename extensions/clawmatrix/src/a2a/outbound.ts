import { type AgentCard, type Message, Role, type Task, TaskState } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { derefEnv, errorMessage } from "@openclaw-bundle/shared";
import { meshError } from "../mesh/requests.ts";
import { textMessage, textOfParts } from "./parts.ts";

/**
 * `cluster_handoff` to `a2a:<peer>`: the task goes to an outside A2A agent, one of the host A2A
 * channel's peers with a `url` (`A2A_PEERS=name=https://...`), with that peer's outbound token,
 * and what it returns streams back as it comes. A peer that does not stream is asked once with
 * SendMessage. Like the host's channel, the URL is the peer's JSON-RPC endpoint (no card lookup);
 * only operator-configured URLs are ever called.
 */

/** What a handoff to an outside agent returns at most; the rest is cut with a marker. */
export const MAX_A2A_OUTPUT_CHARS = 1_000_000;

interface OutboundPeer {
  url: string;
  token: string | undefined;
}

/** The peer's endpoint and outbound token, or a clear error naming what is missing. */
export function outboundPeer(
  hostConfig: unknown,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): OutboundPeer {
  const peers = (hostConfig as { channels?: { a2a?: { peers?: Record<string, unknown> } } } | undefined)
    ?.channels?.a2a?.peers;
  const p =
    peers && Object.hasOwn(peers, name)
      ? (peers[name] as { url?: unknown; outboundToken?: unknown })
      : undefined;
  if (!p) throw meshError("NO_CANDIDATE", `no A2A peer named "${name}" (A2A_PEERS)`);
  if (typeof p.url !== "string" || !/^https?:\/\//.test(p.url))
    throw meshError(
      "NO_CANDIDATE",
      `A2A peer "${name}" has no URL to send to (A2A_PEERS=${name}=https://...)`,
    );
  const token = derefEnv(p.outboundToken, env);
  return { url: p.url, token: token && !token.includes("${") ? token : undefined };
}

function resultText(r: Message | Task): string {
  if ("role" in r) return textOfParts(r.parts);
  const artifacts = r.artifacts.map((a) => textOfParts(a.parts)).join("");
  return artifacts || textOfParts(r.status?.message?.parts);
}

function stateOf(r: Message | Task): TaskState | undefined {
  return "role" in r ? TaskState.TASK_STATE_COMPLETED : r.status?.state;
}

/** Sends `task` to the peer; resolves with everything it returned (also given chunk by chunk). */
export async function a2aHandoff(opts: {
  peer: OutboundPeer;
  name: string;
  task: string;
  signal?: AbortSignal;
  onChunk(text: string): void;
}): Promise<string> {
  const { peer, name } = opts;
  const authFetch: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    if (peer.token) headers.set("authorization", `Bearer ${peer.token}`);
    return fetch(input, { ...init, headers, redirect: "error" });
  };
  // The peer's URL is its endpoint: a card of our own making, so no lookup is ever redirected.
  const card: AgentCard = {
    name,
    description: "",
    supportedInterfaces: [{ url: peer.url, protocolBinding: "JSONRPC", tenant: "", protocolVersion: "1.0" }],
    provider: undefined,
    version: "",
    capabilities: { streaming: true, pushNotifications: false, extensions: [] },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
    signatures: [],
  };
  const client = await new ClientFactory({
    ...ClientFactoryOptions.default,
    transports: [new JsonRpcTransportFactory({ fetchImpl: authFetch })],
  }).createFromAgentCard(card);
  const message = textMessage(Role.ROLE_USER, opts.task);
  const request = { tenant: "", message, configuration: undefined, metadata: undefined };
  let out = "";
  let cut = false;
  const add = (text: string) => {
    if (!text || cut) return;
    const room = MAX_A2A_OUTPUT_CHARS - out.length;
    const piece =
      text.length > room ? `${text.slice(0, room)}\n[cut: over ${MAX_A2A_OUTPUT_CHARS} characters]` : text;
    cut = text.length > room;
    out += piece;
    opts.onChunk(piece);
  };
  const signal = opts.signal ?? new AbortController().signal;
  let state: TaskState | undefined;
  let taskId = "";
  try {
    try {
      for await (const e of client.sendMessageStream(request, { signal })) {
        const p = e.payload;
        if (p?.$case === "task") [taskId, state] = [p.value.id, p.value.status?.state];
        else if (p?.$case === "message") {
          state = TaskState.TASK_STATE_COMPLETED;
          add(textOfParts(p.value.parts));
        } else if (p?.$case === "artifactUpdate") add(textOfParts(p.value.artifact?.parts));
        else if (p?.$case === "statusUpdate") {
          state = p.value.status?.state;
          if (state !== TaskState.TASK_STATE_COMPLETED && state !== TaskState.TASK_STATE_WORKING)
            add(textOfParts(p.value.status?.message?.parts));
        }
      }
    } catch (err) {
      if (signal.aborted || !/-32601|-32004|not (supported|found)|streaming/i.test(errorMessage(err)))
        throw err;
      // The peer does not stream (the host's own A2A channel, for one): ask once, whole.
      const r = await client.sendMessage(request, { signal });
      state = stateOf(r);
      add(resultText(r));
    }
  } catch (err) {
    if (signal.aborted && taskId)
      await client.cancelTask({ tenant: "", id: taskId, metadata: undefined }).catch(() => {});
    throw meshError("UPSTREAM", `A2A peer "${name}": ${errorMessage(err)}`);
  }
  if (state !== undefined && state !== TaskState.TASK_STATE_COMPLETED)
    throw meshError(
      "UPSTREAM",
      `A2A peer "${name}" ended the task ${TaskState[state] ?? state}${out ? `: ${out.slice(0, 500)}` : ""}`,
    );
  return out;
}
