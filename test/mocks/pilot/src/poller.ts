import { pick } from "./commands.ts";
import type { Log } from "./log.ts";
import type { RendezvousClient } from "./rendezvous-client.ts";
import type { PilotState } from "./state.ts";
import type { QueueItem } from "./wire.ts";

/**
 * Pulls the node's queue from the rendezvous on a timer and applies it to `~/.pilot`: messages to
 * the inbox, handshake requests to pending, approvals and untrusts to trust.json. The cursor
 * acknowledges what was applied, so an item is dropped at the rendezvous only after it is on
 * disk. An unreachable rendezvous is logged once per outage and retried on the next tick.
 */

export const DEFAULT_POLL_MS = 200;

export class QueuePoller {
  private readonly client: RendezvousClient;
  private readonly state: PilotState;
  private readonly log: Log;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private cursor = 0;
  /** Bumped by reset(): a tick that started before a re-registration must not move the cursor. */
  private generation = 0;
  private down = false;

  constructor(client: RendezvousClient, state: PilotState, log: Log, intervalMs = DEFAULT_POLL_MS) {
    this.client = client;
    this.state = state;
    this.log = log;
    this.intervalMs = intervalMs;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A new registration: the rendezvous may be a fresh one whose numbering starts over. */
  reset(): void {
    this.cursor = 0;
    this.generation++;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    // A chain of timeouts, not an interval: a slow rendezvous never gets overlapping polls.
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const gen = this.generation;
    try {
      const { items } = await this.client.queue(() => this.cursor);
      if (this.down) this.log("info", "rendezvous reachable again", { url: this.client.baseUrl });
      this.down = false;
      for (const item of items) {
        if (this.stopped) break;
        try {
          this.apply(item);
        } catch (err) {
          // Not acknowledged: the rendezvous keeps the item and the next tick tries it again.
          this.log("error", "could not apply a queue item", {
            kind: item.kind,
            error: (err as Error).message,
          });
          break;
        }
        if (gen === this.generation) this.cursor = item.seq;
      }
    } catch (err) {
      if (!this.down)
        this.log("warn", "rendezvous unreachable; retrying", {
          url: this.client.baseUrl,
          error: (err as Error).message,
        });
      this.down = true;
    } finally {
      this.schedule(this.intervalMs);
    }
  }

  private apply(item: QueueItem): void {
    switch (item.kind) {
      case "message":
        // Data flows only under mutual trust; the rendezvous checks it too, this is the receiver's word.
        if (!this.state.isTrusted(item.from.node_id)) {
          this.log("warn", "message from an untrusted node dropped", { from: item.from.address });
          return;
        }
        if (
          this.state.addMessage({
            id: item.id,
            type: item.type,
            from: item.from.address,
            data: item.data,
            bytes: Buffer.byteLength(item.data),
          })
        )
          this.log("info", "message received", { from: item.from.address, type: item.type });
        return;
      case "handshake":
        this.state.upsertPending({
          ...pick(item.from),
          justification: item.justification,
          received_at: item.received_at,
        });
        this.log("info", "handshake request received", {
          from: item.from.node_id,
          hostname: item.from.hostname,
        });
        return;
      case "trusted":
        this.state.addTrust({ ...pick(item.peer), approved_at: item.approved_at });
        this.log("info", "handshake approved by peer", { peer: item.peer.node_id });
        return;
      case "rejected":
        this.log("info", "handshake rejected by peer", { peer: item.peer_id, reason: item.reason });
        return;
      case "untrusted":
        this.state.removeTrust(item.peer_id);
        this.state.removePending(item.peer_id);
        this.log("info", "trust removed by peer", { peer: item.peer_id });
        return;
    }
  }
}
