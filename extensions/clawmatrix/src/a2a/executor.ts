import { randomUUID } from "node:crypto";
import { type Message, Role, type Task, TaskState } from "@a2a-js/sdk";
import {
  AgentEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from "@a2a-js/sdk/server";
import { errorMessage } from "@openclaw-bundle/shared";
import { textMessage, textOfParts, textPart } from "./parts.ts";

/**
 * Runs an A2A message as a mesh handoff: the same routing and failover as `cluster_handoff`, the
 * remote agent's output streamed back as artifact chunks as it comes, and a cancel that aborts the
 * handoff (the mesh sends `cancel` to the serving node, whose run stops). Pure of sockets: the
 * mesh is behind `HandoffRoute`, so the unit tests drive it with a fake.
 */

/** The largest task text a handoff carries (the serving node's own limit, PROTOCOL §7). */
export const MAX_TASK_CHARS = 200_000;

export interface HandoffRoute {
  /** Other nodes that serve `target` (agent id, `tags:<tag>` or node id), best first. */
  candidates(target: string): string[];
  /** Runs the handoff on the first candidate that takes it; chunks as the agent writes them. */
  handoff(
    nodes: string[],
    body: { agent?: string; task: string },
    opts: { signal: AbortSignal; onChunk(text: string): void },
  ): Promise<{ node: string }>;
  /** Whether `target` names a node rather than an agent. */
  isNode(target: string): boolean;
}

interface ExecutorOptions {
  route: HandoffRoute;
  /** The agent a message goes to when it names none; undefined makes naming one required. */
  defaultAgent: string | undefined;
}

const agentMessage = (taskId: string, contextId: string, text: string): Message =>
  textMessage(Role.ROLE_AGENT, text, { taskId, contextId });

/** The text a handoff carries, or why the message cannot be carried. */
export function taskText(m: Message | undefined): { text: string } | { refused: string } {
  const parts = m?.parts ?? [];
  if (parts.some((p) => p.content?.$case === "raw"))
    return { refused: "binary parts are not carried through the mesh; send the file as a url part (a link)" };
  const lines = parts.map((p) => textOfParts([p]));
  const text = lines.join("\n").trim();
  if (!text) return { refused: "the message has no text, data or url part" };
  if (text.length > MAX_TASK_CHARS)
    return { refused: `the message is ${text.length} characters; at most ${MAX_TASK_CHARS} are carried` };
  // A peer sends tasks, never commands (the host's A2A channel's rule, kept here).
  if (text.startsWith("/"))
    return { refused: "A2A peers send tasks, not slash commands; send the task as plain text" };
  return { text };
}

/** The agent a message names (`metadata.agent` on the message or the request). */
function wantedAgent(rc: RequestContext): unknown {
  return rc.userMessage?.metadata?.agent ?? rc.request.metadata?.agent;
}

export class MeshAgentExecutor implements AgentExecutor {
  readonly #o: ExecutorOptions;
  /** Runs in progress, by task id: cancel aborts them. */
  readonly #running = new Map<string, { abort: AbortController; contextId: string }>();

  constructor(o: ExecutorOptions) {
    this.#o = o;
  }

  get running(): number {
    return this.#running.size;
  }

  execute = async (rc: RequestContext, bus: ExecutionEventBus): Promise<void> => {
    const { taskId, contextId } = rc;
    const task: Task = rc.task ?? {
      id: taskId,
      contextId,
      status: {
        state: TaskState.TASK_STATE_SUBMITTED,
        message: undefined,
        timestamp: new Date().toISOString(),
      },
      artifacts: [],
      history: rc.userMessage ? [rc.userMessage] : [],
      metadata: undefined,
    };
    bus.publish(AgentEvent.task(task));
    const status = (state: TaskState, text?: string) =>
      bus.publish(
        AgentEvent.statusUpdate({
          taskId,
          contextId,
          status: {
            state,
            message: text === undefined ? undefined : agentMessage(taskId, contextId, text),
            timestamp: new Date().toISOString(),
          },
          metadata: undefined,
        }),
      );
    const input = taskText(rc.userMessage);
    const target = this.#target(rc);
    const refusal = "refused" in input ? input.refused : "refused" in target ? target.refused : undefined;
    if (refusal !== undefined || !("text" in input) || !("agent" in target)) {
      status(TaskState.TASK_STATE_REJECTED, refusal);
      bus.finished();
      return;
    }
    const nodes = this.#o.route.candidates(target.agent);
    if (nodes.length === 0) {
      status(
        TaskState.TASK_STATE_REJECTED,
        `no other node of the mesh serves "${target.agent}" (this node's own agents answer on the host's /a2a/v1)`,
      );
      bus.finished();
      return;
    }
    const abort = new AbortController();
    this.#running.set(taskId, { abort, contextId });
    status(TaskState.TASK_STATE_WORKING);
    const artifactId = randomUUID();
    let first = true;
    try {
      const r = await this.#o.route.handoff(
        nodes,
        { agent: this.#o.route.isNode(target.agent) ? undefined : target.agent, task: input.text },
        {
          signal: abort.signal,
          onChunk: (text) => {
            bus.publish(
              AgentEvent.artifactUpdate({
                taskId,
                contextId,
                artifact: {
                  artifactId,
                  name: "answer",
                  description: "",
                  parts: [textPart(text)],
                  metadata: undefined,
                  extensions: [],
                },
                append: !first,
                lastChunk: false,
                metadata: undefined,
              }),
            );
            first = false;
          },
        },
      );
      if (abort.signal.aborted) return; // cancelTask said so already
      if (first) status(TaskState.TASK_STATE_COMPLETED, `${r.node} answered with no output`);
      else status(TaskState.TASK_STATE_COMPLETED);
    } catch (err) {
      if (abort.signal.aborted) return;
      status(TaskState.TASK_STATE_FAILED, `the handoff failed: ${errorMessage(err)}`);
    } finally {
      this.#running.delete(taskId);
      if (!abort.signal.aborted) bus.finished();
    }
  };

  cancelTask = async (taskId: string, bus: ExecutionEventBus): Promise<void> => {
    const run = this.#running.get(taskId);
    if (!run) return; // not running here: the handler answers not cancelable
    this.#running.delete(taskId);
    run.abort.abort();
    bus.publish(
      AgentEvent.statusUpdate({
        taskId,
        contextId: run.contextId,
        status: {
          state: TaskState.TASK_STATE_CANCELED,
          message: agentMessage(taskId, run.contextId, "canceled; the remote run was told to stop"),
          timestamp: new Date().toISOString(),
        },
        metadata: undefined,
      }),
    );
    bus.finished();
  };

  #target(rc: RequestContext): { agent: string } | { refused: string } {
    const wanted = wantedAgent(rc);
    if (wanted === undefined) {
      if (this.#o.defaultAgent) return { agent: this.#o.defaultAgent };
      return { refused: "name the agent in message.metadata.agent (see the Agent Card's skills)" };
    }
    if (typeof wanted !== "string" || !/^(tags:)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(wanted))
      return {
        refused: "metadata.agent must be an agent id, tags:<tag> or a node id (1-128 of [A-Za-z0-9._-])",
      };
    return { agent: wanted };
  }
}
