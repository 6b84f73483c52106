import { DefaultRequestHandler, JsonRpcTransportHandler } from "@a2a-js/sdk/server";
import type { Logger } from "@openclaw-bundle/shared";
import type { MeshNode } from "../mesh/node.ts";
import { type MeshCard, meshCard } from "./card.ts";
import { type HandoffRoute, MeshAgentExecutor } from "./executor.ts";
import { PersistentTaskStore } from "./task-store.ts";

/**
 * The mesh A2A endpoint's run-time parts, owned by the mesh service: the persisted tasks, the
 * executor that turns messages into mesh handoffs, and the SDK's request handler over both.
 */

export interface A2aSettings {
  defaultAgent?: string;
  maxTasks: number;
  /** Idle timeout of a handoff, as for cluster_handoff. */
  handoffTimeoutMs: number;
}

/** The mesh, as the executor needs it: routing and failover are the mesh's own. */
export function meshRoute(node: MeshNode, timeoutMs: number): HandoffRoute {
  return {
    candidates: (target) => node.table.candidates(target).filter((id) => id !== node.id),
    isNode: (target) => target === node.id || node.table.known(target) !== undefined,
    handoff: (nodes, body, opts) =>
      node.requests.call(nodes, "handoff", body, { signal: opts.signal, timeoutMs, onChunk: opts.onChunk }),
  };
}

export class MeshA2a {
  readonly store: PersistentTaskStore;
  readonly executor: MeshAgentExecutor;
  readonly rpc: JsonRpcTransportHandler;
  readonly #node: MeshNode;
  readonly #version: string;

  constructor(opts: {
    node: MeshNode;
    settings: A2aSettings;
    stateDir: string;
    log: Logger;
    version: string;
  }) {
    this.#node = opts.node;
    this.#version = opts.version;
    this.store = new PersistentTaskStore({
      stateDir: opts.stateDir,
      maxTasks: opts.settings.maxTasks,
      log: opts.log,
    });
    this.executor = new MeshAgentExecutor({
      route: meshRoute(opts.node, opts.settings.handoffTimeoutMs),
      defaultAgent: opts.settings.defaultAgent,
    });
    const handler = new DefaultRequestHandler(
      // The handler reads the card only for its interfaces and capabilities; any origin will do.
      this.card("http://127.0.0.1"),
      this.store,
      this.executor,
    );
    this.rpc = new JsonRpcTransportHandler(handler);
  }

  card(origin: string): MeshCard {
    const node = this.#node;
    return meshCard({
      selfId: node.id,
      origin,
      version: this.#version,
      nodes: node.table.nodeIds().map((id) => {
        const s = node.table.stateOf(id);
        return { nodeId: id, tags: s?.tags ?? [], agents: s?.agents ?? [] };
      }),
    });
  }

  start(): Promise<void> {
    return this.store.open();
  }

  /** Before the mesh stops: running tasks end failed with the reason, and the file is written. */
  stop(): Promise<void> {
    return this.store.close();
  }
}
