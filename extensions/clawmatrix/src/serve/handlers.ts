import type { Logger } from "@openclaw-bundle/shared";
import { z } from "zod";
import type { ClawmatrixConfig } from "../config-schema.ts";
import { type Handler, meshError } from "../mesh/requests.ts";
import type { RequestKind } from "../protocol/frames.ts";
import { chatCompletions, invokeTool, type LocalGateway } from "./local-gateway.ts";
import { capOutput, normalizeToolName, toolRefusal } from "./tool-policy.ts";
import { confineToolArgs } from "./workspace.ts";

/** PROTOCOL §7: what this node does for requests from the mesh, through its own gateway. */

const chatBody = z.object({
  model: z.string().min(1).max(128),
  request: z.record(z.string(), z.unknown()),
  stream: z.boolean(),
});
const handoffBody = z.object({
  agent: z.string().max(128).optional(),
  task: z.string().min(1).max(200_000),
  context: z.string().max(200_000).optional(),
});
const toolBody = z.object({ tool: z.string().min(1).max(128), args: z.unknown() });
const sendBody = z.object({ agent: z.string().max(128).optional(), message: z.string().min(1).max(200_000) });

function parse<T>(schema: z.ZodType<T>, body: unknown, kind: string): T {
  const r = schema.safeParse(body);
  if (!r.success)
    throw meshError(
      "BAD_REQUEST",
      `bad ${kind} request: ${r.error.issues[0]?.path.join(".")} ${r.error.issues[0]?.message}`,
    );
  return r.data;
}

/** The text a streamed chat-completions event adds, if any. */
export function deltaText(data: string): string {
  if (data === "[DONE]") return "";
  try {
    const j = JSON.parse(data) as { choices?: Array<{ delta?: { content?: unknown } }> };
    const c = j.choices?.[0]?.delta?.content;
    return typeof c === "string" ? c : "";
  } catch {
    return "";
  }
}

interface HandlerDeps {
  nodeId: string;
  config: ClawmatrixConfig;
  gateway: () => LocalGateway;
  /** The endpoint of an OpenAI-compatible provider of this node, if it is one. */
  provider: (id: string) => LocalGateway | undefined;
  /** This gateway's workspace: the only place a peer's file tools reach (PROTOCOL §7). */
  workspace: () => string;
  log: Logger;
}

function withoutTools(r: Record<string, unknown>): Record<string, unknown> {
  const { tools: _t, tool_choice: _c, parallel_tool_calls: _p, ...rest } = r;
  return rest;
}

export function localAgent(config: ClawmatrixConfig, wanted: string | undefined): string {
  if (!wanted) return config.agents[0]?.id ?? "default";
  if (wanted.startsWith("tags:")) {
    const tag = wanted.slice(5);
    return config.agents.find((a) => a.tags.includes(tag))?.id ?? config.agents[0]?.id ?? "default";
  }
  return config.agents.some((a) => a.id === wanted) ? wanted : (config.agents[0]?.id ?? "default");
}

export function createHandlers(d: HandlerDeps): Partial<Record<RequestKind, Handler>> {
  return {
    chat: async (raw, ctx) => {
      const b = parse(chatBody, raw, "chat");
      const m = d.config.models.find((x) => x.id === b.model);
      if (!m) throw meshError("BAD_REQUEST", `${d.nodeId} does not serve model "${b.model}"`);
      // A plain OpenAI-compatible provider is called directly: the caller's own messages, system
      // prompt and tools go to the model untouched. Other providers (OAuth, native APIs) go
      // through this gateway's endpoint with the model pinned, without the caller's tools.
      const direct = d.provider(m.provider);
      const [target, request, headers, path] = direct
        ? [direct, { ...b.request, model: m.id }, {}, "/chat/completions"]
        : [
            d.gateway(),
            { ...withoutTools(b.request), model: "openclaw/default" },
            { "x-openclaw-model": `${m.provider}/${m.id}` },
            "/v1/chat/completions",
          ];
      if (b.stream) {
        // The events of one network read, in SSE wire form, make one piece; pieces that come
        // while the previous one is still on its way join it (requests.ts, PROTOCOL §7).
        await chatCompletions(target, request, headers, ctx.signal, { wire: (w) => ctx.chunk(w) }, path);
        return undefined;
      }
      const answer = (await chatCompletions(target, request, headers, ctx.signal, undefined, path)) as Record<
        string,
        unknown
      >;
      return { ...answer, model: b.model };
    },

    handoff: async (raw, ctx) => {
      const b = parse(handoffBody, raw, "handoff");
      const agent = localAgent(d.config, b.agent);
      const content = b.context ? `${b.task}\n\nContext from ${ctx.src}:\n${b.context}` : b.task;
      await chatCompletions(
        d.gateway(),
        { model: `openclaw/${agent}`, messages: [{ role: "user", content }], user: `clawmatrix:${ctx.src}` },
        {},
        ctx.signal,
        {
          events: (events) => {
            const text = events.map(deltaText).join("");
            if (text) ctx.chunk(text);
          },
        },
      );
      return undefined;
    },

    tool: async (raw, ctx) => {
      const b = parse(toolBody, raw, "tool");
      const refusal = toolRefusal(d.nodeId, d.config.toolProxy, b.tool);
      if (refusal) throw meshError("TOOL_DENIED", refusal);
      const name = normalizeToolName(b.tool);
      const args = await confineToolArgs(d.workspace(), name, b.args);
      const answer = await invokeTool(d.gateway(), name, args, ctx.signal);
      const text = typeof answer === "string" ? answer : JSON.stringify(answer);
      return capOutput(text, d.config.toolProxy.maxOutputBytes);
    },

    send: async (raw, ctx) => {
      const b = parse(sendBody, raw, "send");
      const agent = localAgent(d.config, b.agent);
      // One-way: accepted once the turn is started; its outcome is only logged here.
      const turn = new AbortController();
      chatCompletions(
        d.gateway(),
        {
          model: `openclaw/${agent}`,
          messages: [{ role: "user", content: `Message from mesh node ${ctx.src}: ${b.message}` }],
          user: `clawmatrix:${ctx.src}`,
        },
        {},
        turn.signal,
      ).catch((err) =>
        d.log.warn(`cluster_send from ${ctx.src} to ${agent} failed: ${(err as Error).message}`),
      );
      return { delivered: true, node: d.nodeId, agent };
    },
  };
}
