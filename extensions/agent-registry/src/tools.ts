import {
  type AgentTool,
  guardTool,
  type ToolParams,
  type ToolResult,
  textResult,
} from "@openclaw-bundle/shared";
import type { AgentRegistryAccount } from "./account.ts";
import { MAX_CAPABILITIES } from "./config-schema.ts";
import { agentRegistryError } from "./errors.ts";
import type { Peer } from "./peers.ts";
import type { AgentRecord } from "./registry-client.ts";
import type { PendingHandshake, Transport } from "./transports.ts";

/**
 * `agent_network`: find other agents and talk to them. Every action validates its arguments,
 * clamps what it asks for (1-50 results, at most 20 capabilities), and answers errors as
 * `error <CODE>: <what to do>` instead of throwing into the turn.
 */

export const TOOL_NAME = "agent_network";
export const ACTIONS = [
  "search",
  "get_agent",
  "contact",
  "handshake",
  "pending",
  "approve",
  "reject",
  "untrust",
  "inbox",
] as const;
const MAX_QUERY = 200;
const MAX_MESSAGE = 32_000;

type Params = ToolParams;
const result = textResult;

function str(p: Params, key: string, max: number, required: true): string;
function str(p: Params, key: string, max: number, required?: false): string | undefined;
function str(p: Params, key: string, max: number, required = false): string | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === "") {
    if (required)
      throw agentRegistryError("BAD_REQUEST", `${key} is required for action ${String(p.action)}`);
    return undefined;
  }
  if (typeof v !== "string" || v.length > max)
    throw agentRegistryError("BAD_REQUEST", `${key} must be a string of at most ${max} characters`);
  return v.trim();
}

export function clampCapabilities(v: unknown): string[] {
  const list = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [];
  const clean = list
    .filter((c): c is string => typeof c === "string")
    .map((c) => c.trim())
    .filter((c) => c && c.length <= 64);
  return [...new Set(clean)].slice(0, MAX_CAPABILITIES);
}

const describe = (a: AgentRecord) =>
  `- ${a.hostname}${a.display_name ? ` (${a.display_name})` : ""}: ${a.description ?? "no description"}; capabilities: ${(a.capabilities ?? []).join(", ") || "none"}; transport: ${a.pilot_node_id != null ? "pilot" : "relay"}`;

export const TOOL_PARAMETERS = {
  type: "object",
  properties: {
    action: { type: "string", enum: [...ACTIONS], description: "What to do" },
    query: {
      type: "string",
      description: "search: free text matched against names, descriptions and capabilities",
    },
    capabilities: {
      type: "array",
      items: { type: "string" },
      description: "search: capabilities every result must have (at most 20)",
    },
    limit: {
      type: "integer",
      minimum: 1,
      maximum: 50,
      description: "search: how many results (1-50, default 20)",
    },
    hostname: {
      type: "string",
      description: "get_agent, contact, handshake, approve, reject, untrust: the other agent's hostname",
    },
    message: { type: "string", description: "contact: the message to send" },
    wait: { type: "boolean", description: "contact: wait for the other agent's answer (default true)" },
    introduction: {
      type: "string",
      description: "handshake: who you are and why you want to talk (required)",
    },
    reason: { type: "string", description: "reject: why (optional)" },
  },
  required: ["action"],
  additionalProperties: false,
};

export function createAgentNetworkTool(live: () => AgentRegistryAccount | undefined): AgentTool {
  const account = () => {
    const a = live();
    if (!a)
      throw agentRegistryError(
        "NOT_RUNNING",
        "the agent-registry channel is not running on this gateway; check agent-registry.status",
      );
    return a;
  };
  const findPending = async (
    a: AgentRegistryAccount,
    hostname: string,
  ): Promise<{ t: Transport; p: PendingHandshake }> => {
    for (const t of a.transports.filter((x) => x.ready()))
      for (const p of await t.pending()) if (p.from.hostname === hostname) return { t, p };
    throw agentRegistryError(
      "NOT_FOUND",
      `no pending handshake from ${hostname}; list them with action "pending"`,
    );
  };
  const known = async (a: AgentRegistryAccount, hostname: string): Promise<Peer> => a.findPeer(hostname);

  const actions: Record<(typeof ACTIONS)[number], (p: Params) => Promise<ToolResult>> = {
    async search(p) {
      const q = str(p, "query", MAX_QUERY);
      const capabilities = clampCapabilities(p.capabilities);
      const r = await account().client.search({
        q,
        capabilities,
        limit: typeof p.limit === "number" ? p.limit : undefined,
      });
      if (r.agents.length === 0) return result("no agent matches; try fewer capabilities or other words", r);
      return result(
        `${r.total} agent(s) match, showing ${r.agents.length}:\n${r.agents.map(describe).join("\n")}`,
        r,
      );
    },
    async get_agent(p) {
      const hostname = str(p, "hostname", 253, true);
      const r = await account().client.byHostname(hostname);
      if (!r)
        throw agentRegistryError(
          "NOT_FOUND",
          `no online agent named "${hostname}"; find one with action "search"`,
        );
      return result(describe(r), r);
    },
    async contact(p) {
      const hostname = str(p, "hostname", 253, true);
      const message = str(p, "message", MAX_MESSAGE, true);
      const r = await account().contact(hostname, message, { awaitAnswer: p.wait !== false });
      const head = `sent to ${hostname} over ${r.transport}`;
      if (p.wait === false)
        return result(`${head}; its answer will arrive in this conversation's channel session`, r);
      return r.answer !== undefined
        ? result(`${head}. ${hostname} answered:\n${r.answer}`, { ...r, peer: undefined })
        : result(`${head}; no answer yet (it will arrive in the session with ${hostname})`, {
            ...r,
            peer: undefined,
          });
    },
    async handshake(p) {
      const a = account();
      const peer = await known(a, str(p, "hostname", 253, true));
      const intro = str(p, "introduction", 2000, true);
      const t = a.transportFor(peer);
      await t.handshake(peer, intro);
      return result(
        `trust handshake sent to ${peer.hostname} over ${t.kind}; messages flow once it approves`,
        { transport: t.kind },
      );
    },
    async pending() {
      const a = account();
      const all: PendingHandshake[] = [];
      for (const t of a.transports.filter((x) => x.ready())) all.push(...(await t.pending()));
      if (all.length === 0) return result("no pending trust handshakes", { pending: [] });
      return result(
        all
          .map(
            (x) =>
              `- ${x.from.hostname} (${x.transport}${x.from.known ? "" : ", not in the registry"}): ${x.justification}`,
          )
          .join("\n"),
        { pending: all },
      );
    },
    async approve(p) {
      const hostname = str(p, "hostname", 253, true);
      const { t, p: pending } = await findPending(account(), hostname);
      await t.approve(pending.from);
      return result(`approved ${hostname} over ${t.kind}`, { transport: t.kind });
    },
    async reject(p) {
      const hostname = str(p, "hostname", 253, true);
      const { t, p: pending } = await findPending(account(), hostname);
      await t.reject(pending.from, str(p, "reason", 500));
      return result(`rejected ${hostname}`, { transport: t.kind });
    },
    async untrust(p) {
      const a = account();
      const peer = await known(a, str(p, "hostname", 253, true));
      const t = a.transportFor(peer);
      await t.untrust(peer);
      return result(`${peer.hostname} is no longer trusted over ${t.kind}`, { transport: t.kind });
    },
    async inbox() {
      // For diagnosis: the inbox loop handles messages itself; this only shows what waits.
      const a = account();
      const lines: string[] = [];
      for (const t of a.transports.filter((x) => x.ready()))
        for (const m of await t.receive())
          lines.push(`- ${t.kind} from ${m.from.hostname}: ${m.message.text.slice(0, 200)}`);
      return result(
        lines.length ? lines.join("\n") : "the inboxes are empty (messages are handled as they arrive)",
        { count: lines.length, counters: a.counters },
      );
    },
  };

  return {
    name: TOOL_NAME,
    label: "Agent Network",
    description:
      "Find other agents in the Agent Registry and talk to them: search (by text and capabilities), get_agent, contact (send a message and wait for the answer; a trust handshake is sent first when needed), handshake, pending, approve, reject, untrust, inbox.",
    parameters: TOOL_PARAMETERS,
    execute: guardTool("AGENT_REGISTRY_ERR_UPSTREAM", async (params) => {
      const action = params.action as (typeof ACTIONS)[number];
      if (!ACTIONS.includes(action))
        throw agentRegistryError(
          "BAD_REQUEST",
          `action must be one of ${ACTIONS.join(", ")} (got ${JSON.stringify(params.action)})`,
        );
      return actions[action](params);
    }),
  };
}
