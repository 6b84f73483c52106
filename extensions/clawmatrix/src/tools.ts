import {
  type AgentTool,
  guardTool,
  schemaObject,
  schemaString,
  type ToolParams,
  textResult,
} from "@openclaw-bundle/shared";
import { meshError } from "./mesh/requests.ts";
import type { MeshService } from "./service.ts";

/**
 * The agent tools of the mesh (ARCHITECTURE "The mesh"): handoff, remote tools, one-way send and
 * the topology. Each resolves its target to candidates (PROTOCOL §6) and fails with a message an
 * agent can act on.
 */

type Params = ToolParams;
export type MeshTool = AgentTool;

const str = schemaString;
const obj = schemaObject;
const TARGET = str("A node id, an agent id, or tags:<tag>");
const HANDOFF_TARGET = str("A node id, an agent id, tags:<tag>, or a2a:<peer> for an outside A2A agent");

const text = textResult;

function need(p: Params, key: string): string {
  const v = p[key];
  if (typeof v !== "string" || !v.trim())
    throw meshError("BAD_REQUEST", `${key} is required (a non-empty string)`);
  return v;
}

/** `hostConfig` reads the gateway's config (the A2A peers of `a2a:<peer>` targets live there). */
export function createTools(
  live: () => MeshService | undefined,
  hostConfig: () => unknown = () => undefined,
): MeshTool[] {
  const mesh = () => {
    const s = live();
    if (s?.state !== "running") throw meshError("UNREACHABLE", "the mesh is not running on this node");
    return s;
  };
  const remote = (s: MeshService, target: string) => {
    const c = s.node.table.candidates(target).filter((id) => id !== s.node.id);
    if (c.length === 0)
      throw meshError("NO_CANDIDATE", `no reachable node matches "${target}" (see cluster_peers)`);
    return c;
  };
  const agentOf = (s: MeshService, target: string) =>
    target.startsWith("tags:") ? target : s.node.table.known(target) ? undefined : target;
  const wrap = (fn: Parameters<typeof guardTool>[1]) => guardTool("MESH_ERR_UPSTREAM", fn);
  const runTool = async (target: string, tool: string, args: unknown, signal?: AbortSignal) => {
    const s = mesh();
    const r = await s.node.requests.call(
      remote(s, target),
      "tool",
      { tool, args },
      { signal, timeoutMs: s.config.handoffTimeout },
    );
    const out = r.body as { output: string; truncated: boolean };
    return text(out.output, { node: r.node, truncated: out.truncated });
  };

  return [
    {
      name: "cluster_peers",
      label: "Mesh Peers",
      description:
        "Show the mesh: every known node, whether it is reached directly or through a relay, its latency, agents, models and tags.",
      parameters: obj({}, []),
      execute: wrap(async () => {
        const st = mesh().node.status();
        return text(JSON.stringify(st.peers, null, 2), st);
      }),
    },
    {
      name: "cluster_handoff",
      label: "Hand Off to a Mesh Agent",
      description:
        "Hand a task to an agent on another node, or to an outside A2A agent, and return its answer. target: agent id, tags:<tag>, node id, or a2a:<peer>.",
      parameters: obj(
        {
          target: HANDOFF_TARGET,
          task: str("What the remote agent should do"),
          context: str("Optional context for the task"),
        },
        ["target", "task"],
      ),
      execute: wrap(async (p, signal) => {
        const target = need(p, "target");
        if (target.startsWith("a2a:")) {
          // The A2A client (its SDK) loads at the first such handoff, not at registration.
          const { a2aHandoff, outboundPeer } = await import("./a2a/outbound.ts");
          const name = target.slice(4);
          const task =
            typeof p.context === "string" ? `${need(p, "task")}\n\nContext:\n${p.context}` : need(p, "task");
          const out = await a2aHandoff({
            peer: outboundPeer(hostConfig(), name),
            name,
            task,
            signal,
            onChunk: () => {},
          });
          return text(out || "(the A2A agent gave no output)", { peer: name });
        }
        const s = mesh();
        let out = "";
        const body = {
          agent: agentOf(s, target),
          task: need(p, "task"),
          context: typeof p.context === "string" ? p.context : undefined,
        };
        const r = await s.node.requests.call(remote(s, target), "handoff", body, {
          signal,
          timeoutMs: s.config.handoffTimeout,
          onChunk: (d) => {
            out += d;
          },
        });
        return text(out || "(the remote agent gave no output)", { node: r.node });
      }),
    },
    {
      name: "cluster_send",
      label: "Send to a Mesh Agent",
      description: "Send a one-way message into an agent's session on another node.",
      parameters: obj({ target: TARGET, message: str("The message") }, ["target", "message"]),
      execute: wrap(async (p, signal) => {
        const s = mesh();
        const target = need(p, "target");
        const r = await s.node.requests.call(
          remote(s, target),
          "send",
          { agent: agentOf(s, target), message: need(p, "message") },
          { signal, timeoutMs: 30_000 },
        );
        return text(`delivered to ${r.node}`, r.body);
      }),
    },
    {
      name: "cluster_exec",
      label: "Run a Command on a Node",
      description: "Run a shell command on another node (only where its tool proxy allows exec).",
      parameters: obj({ target: TARGET, command: str("The command") }, ["target", "command"]),
      execute: wrap((p, signal) =>
        runTool(need(p, "target"), "exec", { command: need(p, "command") }, signal),
      ),
    },
    {
      name: "cluster_read",
      label: "Read a File on a Node",
      description: "Read a file on another node (only where its tool proxy allows read).",
      parameters: obj({ target: TARGET, path: str("File path on that node") }, ["target", "path"]),
      execute: wrap((p, signal) => runTool(need(p, "target"), "read", { path: need(p, "path") }, signal)),
    },
    {
      name: "cluster_write",
      label: "Write a File on a Node",
      description: "Write a file on another node (only where its tool proxy allows write).",
      parameters: obj({ target: TARGET, path: str("File path on that node"), content: str("File content") }, [
        "target",
        "path",
        "content",
      ]),
      execute: wrap((p, signal) =>
        runTool(
          need(p, "target"),
          "write",
          { path: need(p, "path"), content: typeof p.content === "string" ? p.content : "" },
          signal,
        ),
      ),
    },
    {
      name: "cluster_tool",
      label: "Run a Tool on a Node",
      description: "Run any one tool on another node, under that node's tool-proxy policy.",
      parameters: obj(
        { target: TARGET, tool: str("Tool name"), args: { type: "object", description: "Tool arguments" } },
        ["target", "tool"],
      ),
      execute: wrap((p, signal) => runTool(need(p, "target"), need(p, "tool"), p.args ?? {}, signal)),
    },
  ];
}
