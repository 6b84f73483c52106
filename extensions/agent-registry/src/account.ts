import { randomUUID } from "node:crypto";
import path from "node:path";
import { errorMessage, type Logger, Periodic, PersistedSet, sleep } from "@openclaw-bundle/shared";
import { AnswerWaiters } from "./answer-waiters.ts";
import type { AgentRegistryConfig } from "./config-schema.ts";
import { agentRegistryError, isAgentRegistryError } from "./errors.ts";
import { registryMetrics } from "./metrics.ts";
import { type Peer, PeerDirectory } from "./peers.ts";
import { PilotDaemon } from "./pilot/daemon.ts";
import { pilotHostname } from "./pilot/hostname.ts";
import { Registration } from "./registration.ts";
import { RegistryClient } from "./registry-client.ts";
import {
  type Inbound,
  PilotTransport,
  RelayTransport,
  type Transport,
  type TransportKind,
} from "./transports.ts";
import { encodeMessage } from "./wire.ts";

/**
 * One account of the channel at run time: the Pilot daemon (when configured), the registration
 * and its heartbeat, the inbox loop over both transports, and sending — what `startAccount`
 * starts and an abort stops. A message is recorded as handled (persisted at once) when its answer
 * has left, or its turn ended without one, and removed from an inbox only once handled: a crash
 * loses nothing, and the one answer it may repeat is dropped by the asker (one answer per id).
 */

const SEEN_CAPACITY = 10_000;
const PILOT_CHECK_MS = 10_000;
const TRUST_POLL_MS = 500;
export const ANSWER_POLL_MS = 1_000;

export type ResolvedAccount = AgentRegistryConfig & {
  registryUrl: string;
  hostname: string;
  installationId: string;
  apiKey?: string;
};

interface AccountDeps {
  config: ResolvedAccount;
  logger: Logger;
  home: string;
  stateDir: string;
  /** Runs an inbound message as a turn in the sender's own session; `reply` is absent for answers. */
  dispatch(m: Inbound, reply: ((text: string) => Promise<void>) | undefined): Promise<void>;
  /** Tells the agent, in the sender's session, something it should act on (a trust request). */
  notify(from: Peer, transport: TransportKind, text: string): Promise<void>;
  /** Replaces the transports the config would make (tests drive the inbox loop with their own). */
  transports?: Transport[];
  /** Contacts awaiting answers; shared by successive accounts so a restart keeps them. */
  waiters?: AnswerWaiters;
}

export interface Counters {
  received: number;
  dispatched: number;
  deduplicated: number;
  failed: number;
  sent: number;
  answersAwaited: number;
  handshakesApproved: number;
}

export class AgentRegistryAccount {
  readonly client: RegistryClient;
  readonly peers: PeerDirectory;
  readonly daemon: PilotDaemon | undefined;
  readonly registration: Registration;
  /** Registered in the registry (config `discoverable`, or as `agent-registry.refresh` last set it). */
  discoverable: boolean;
  readonly transports: Transport[];
  readonly counters: Counters = {
    received: 0,
    dispatched: 0,
    deduplicated: 0,
    failed: 0,
    sent: 0,
    answersAwaited: 0,
    handshakesApproved: 0,
  };
  lastError: string | undefined;
  lastInbound: { from: string; transport: TransportKind; at: string } | undefined;
  readonly #d: AccountDeps;
  readonly #seen: PersistedSet;
  readonly #waiters: AnswerWaiters;
  #detachWaiters: (() => void) | undefined;
  #poller: Periodic | undefined;
  #pilotCheck: Periodic | undefined;
  #stopped = false;

  constructor(d: AccountDeps) {
    this.#d = d;
    this.#waiters = d.waiters ?? new AnswerWaiters(ANSWER_POLL_MS);
    const c = d.config;
    this.client = new RegistryClient({ baseUrl: c.registryUrl, apiKey: c.apiKey });
    this.peers = new PeerDirectory(this.client);
    this.#seen = new PersistedSet(path.join(d.stateDir, "agent-registry", "seen.json"), SEEN_CAPACITY);
    const usePilot = c.pilot?.registry !== undefined && c.transport !== "relay";
    this.daemon = usePilot
      ? new PilotDaemon({
          binDir: c.pilot?.binDir,
          socketPath: c.pilot?.socketPath ?? "/tmp/pilot.sock",
          registry: c.pilot?.registry as string,
          beacon: c.pilot?.beacon,
          port: c.pilot?.port ?? 4000,
          publicIp: c.pilot?.publicIp,
          hostname: c.pilot?.hostname ?? pilotHostname(c.hostname),
          home: d.home,
          logger: d.logger,
        })
      : undefined;
    const daemon = this.daemon;
    this.transports = d.transports ?? [
      ...(daemon
        ? [
            new PilotTransport(
              () => daemon.ctl,
              () => daemon.ready,
              this.peers,
            ),
          ]
        : []),
      ...(c.transport !== "pilot"
        ? [
            new RelayTransport(
              this.client,
              { installationId: c.installationId, hostname: c.hostname },
              this.peers,
            ),
          ]
        : []),
    ];
    this.discoverable = c.discoverable;
    this.registration = new Registration({
      client: this.client,
      body: () => this.#registerBody(),
      intervalMs: c.heartbeatIntervalSeconds * 1000,
      maxFailures: c.maxHeartbeatFailures,
      logger: d.logger,
    });
  }

  /** The transport messages go out on: Pilot when it is up and the peer has a node id, else the relay. */
  get transportInUse(): TransportKind | "none" {
    return this.transports.find((t) => t.ready())?.kind ?? "none";
  }

  #registerBody() {
    const c = this.#d.config;
    const info = this.daemon?.ready ? this.daemon.info : undefined;
    return {
      hostname: c.hostname,
      installation_id: c.installationId,
      ...(info ? { pilot_node_id: info.node_id, pilot_address: info.address } : {}),
      ...(c.displayName ? { display_name: c.displayName } : {}),
      ...(c.description ? { description: c.description } : {}),
      capabilities: c.capabilities,
    };
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#seen
      .load()
      .catch((err) => this.#d.logger.warn(`could not read the handled-message list: ${errorMessage(err)}`));
    if (this.daemon) {
      const daemon = this.daemon;
      const info = await daemon.start().catch((err) => {
        daemon.lastError = errorMessage(err);
        return undefined;
      });
      if (!info)
        this.#d.logger.warn(
          `Pilot is not usable (${this.daemon.lastError}); messages use the registry's HTTP relay`,
        );
      let nodeId = info?.node_id;
      this.#pilotCheck = new Periodic({ name: "pilot check", intervalMs: PILOT_CHECK_MS }, async () => {
        await this.daemon?.check();
        const now = this.daemon?.ready ? this.daemon.info?.node_id : undefined;
        if (now !== undefined && now !== nodeId) {
          nodeId = now;
          if (this.discoverable) await this.registration.refresh(); // the registry must learn our node id
        }
      });
      this.#pilotCheck.start();
    }
    if (this.discoverable) this.registration.start();
    else this.#d.logger.info("not discoverable: this agent is not registered (messages are still read)");
    this.#poller = new Periodic(
      {
        name: "agent-registry inbox",
        intervalMs: this.#d.config.pollIntervalSeconds * 1000,
        immediate: true,
      },
      () => this.poll(),
    );
    this.#poller.start();
    this.#detachWaiters = this.#waiters.attach(() => void this.#poller?.runNow());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#poller?.stop();
    await this.#pilotCheck?.stop();
    this.#poller = this.#pilotCheck = undefined;
    await this.registration.stop({ deregister: true });
    await this.daemon?.stop();
    await this.#seen.save().catch(() => {});
    // Waiters are left waiting: the next account (a restart) reads their answers.
    this.#detachWaiters?.();
    this.#detachWaiters = undefined;
  }

  /**
   * `agent-registry.refresh`: registers again now, or — when the agent is not meant to be
   * discoverable — deregisters and stays idle (messages from trusted peers are still read).
   */
  async refresh(discoverable: boolean = this.discoverable): Promise<void> {
    this.discoverable = discoverable;
    if (!discoverable) {
      await this.registration.stop({ deregister: true });
      return;
    }
    this.registration.start();
    await this.registration.refresh();
  }

  /** One pass over every usable transport: messages, then trust requests. */
  async poll(): Promise<void> {
    for (const t of this.transports) {
      if (this.#stopped || !t.ready()) continue;
      try {
        await this.#drain(t);
        await this.#handshakes(t);
      } catch (err) {
        this.lastError = `${t.kind} inbox: ${errorMessage(err)}`;
        this.#d.logger.warn(this.lastError);
      }
    }
    await this.#seen
      .save()
      .catch((err) => this.#d.logger.warn(`could not save the handled-message list: ${errorMessage(err)}`));
  }

  async #drain(t: Transport): Promise<void> {
    const received = await t.receive();
    if (received.length === 0) return; // nothing waiting, nothing to remove
    for (const m of received) {
      if (this.#stopped) return;
      if (this.#seen.has(m.key)) continue; // handled, not yet removed from the inbox
      // A message handled before (another copy), or a second answer to the same question: an
      // answerer that crashed after its answer left, before it recorded so, answers again.
      const answers = m.message.replyTo ? `answer:${m.message.replyTo}` : undefined;
      if (this.#seen.has(`msg:${m.message.id}`) || (answers && this.#seen.has(answers))) {
        this.counters.deduplicated++;
        await this.#handled(m);
        continue;
      }
      this.counters.received++;
      registryMetrics.message("in", t.kind);
      this.lastInbound = { from: m.from.hostname, transport: t.kind, at: new Date().toISOString() };
      if (!(m.message.replyTo && this.#waiters.deliver(m.message.replyTo, m.message.text))) {
        try {
          // An answer is never answered: two agents would otherwise talk to each other forever.
          await this.#d.dispatch(m, m.message.replyTo ? undefined : (text) => this.#reply(t, m, text));
          this.counters.dispatched++;
        } catch (err) {
          this.counters.failed++;
          this.lastError = `message from ${m.from.hostname} not handled: ${errorMessage(err)}`;
          this.#d.logger.warn(`${this.lastError}; it stays in the inbox for the next pass`);
          break;
        }
      }
      await this.#handled(m, answers);
    }
    await t.settle((k) => this.#seen.has(k));
  }

  /**
   * Records a message as handled, on disk at once (an atomic write): a crash after this point
   * does not run its turn again. Also called the moment its answer has left (#reply), so the
   * window in which a crash repeats an answer is one write wide, and the asker drops the repeat.
   */
  async #handled(m: Inbound, answers?: string): Promise<void> {
    this.#seen.add(`msg:${m.message.id}`);
    this.#seen.add(m.key);
    if (answers) this.#seen.add(answers);
    await this.#seen
      .save()
      .catch((err) => this.#d.logger.warn(`could not save the handled-message list: ${errorMessage(err)}`));
  }

  async #handshakes(t: Transport): Promise<void> {
    for (const p of await t.pending()) {
      if (this.#seen.has(p.key)) continue;
      if (this.#d.config.autoApprove === "registered" && p.from.known) {
        await t.approve(p.from);
        this.counters.handshakesApproved++;
        this.#d.logger.info(
          `approved the trust handshake of ${p.from.hostname} (registered in the registry)`,
        );
      } else {
        await this.#d.notify(
          p.from,
          t.kind,
          `${p.from.hostname} asks to be trusted over ${t.kind}: "${p.justification.slice(0, 500)}". ` +
            `Approve with agent_network {"action":"approve","hostname":"${p.from.hostname}"} or reject it.`,
        );
      }
      this.#seen.add(p.key);
    }
  }

  /** The answer carries the id it answers (reply_to): the asker takes one answer per id. */
  async #reply(t: Transport, m: Inbound, text: string): Promise<void> {
    if (!text.trim()) return;
    await t.send(m.from, encodeMessage(text, m.message.id));
    this.counters.sent++;
    registryMetrics.message("out", t.kind);
    await this.#handled(m);
  }

  /** The transport to reach a peer with, by the configured preference. */
  transportFor(peer: Peer): Transport {
    const t = this.transports.find((x) => x.ready() && x.canReach(peer));
    if (t) return t;
    const why =
      this.transports.length === 0
        ? "no transport is configured"
        : `no usable transport reaches it (${this.transports.map((x) => `${x.kind}: ${x.ready() ? "no address for it" : "down"}`).join(", ")})`;
    throw agentRegistryError("UNREACHABLE", `cannot reach ${peer.hostname}: ${why}`);
  }

  async findPeer(hostname: string): Promise<Peer> {
    const peer = await this.peers.byHostname(hostname);
    if (!peer)
      throw agentRegistryError(
        "NOT_FOUND",
        `no online agent named "${hostname}" in the registry; find one with agent_network search`,
      );
    return peer;
  }

  /**
   * Sends a message to an agent by hostname. A peer that has not trusted us yet gets a handshake
   * first, and the message follows once it approves (within contactTimeoutSeconds). With
   * `awaitAnswer`, resolves with the peer's answer, or undefined when none came in time.
   */
  async contact(hostname: string, text: string, opts: { awaitAnswer?: boolean; introduction?: string } = {}) {
    const peer = await this.findPeer(hostname);
    const t = this.transportFor(peer);
    const id = randomUUID();
    const timeoutMs = this.#d.config.contactTimeoutSeconds * 1000;
    const answer = opts.awaitAnswer ? this.#awaitAnswer(id, timeoutMs) : undefined;
    try {
      await this.#sendTrusting(
        t,
        peer,
        encodeMessage(text, undefined, id),
        opts.introduction ?? text,
        timeoutMs,
      );
      this.counters.sent++;
      registryMetrics.message("out", t.kind);
      return { transport: t.kind, messageId: id, peer, answer: answer ? await answer.promise : undefined };
    } finally {
      answer?.cancel();
    }
  }

  /** Sends a plain message (outbound `sendText`): no answer awaited. */
  async sendText(hostname: string, text: string): Promise<{ messageId: string; transport: TransportKind }> {
    const r = await this.contact(hostname, text);
    return { messageId: r.messageId, transport: r.transport };
  }

  async #sendTrusting(
    t: Transport,
    peer: Peer,
    body: string,
    intro: string,
    timeoutMs: number,
  ): Promise<void> {
    try {
      await t.send(peer, body);
      return;
    } catch (err) {
      if (!isAgentRegistryError(err, "NOT_TRUSTED")) throw err;
    }
    await t.handshake(peer, `${this.#d.config.hostname}: ${intro.slice(0, 500)}`);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.#stopped) {
      await sleep(TRUST_POLL_MS);
      if (await t.trusts(peer).catch(() => false)) {
        await t.send(peer, body);
        return;
      }
    }
    throw agentRegistryError(
      "NOT_TRUSTED",
      `sent a trust handshake to ${peer.hostname}; it has not approved it within ${timeoutMs / 1000} s. Try again once it has (it sees the request in agent_network pending)`,
    );
  }

  #awaitAnswer(id: string, timeoutMs: number) {
    this.counters.answersAwaited++;
    // The trust handshake may take up to timeoutMs before the message even leaves.
    return this.#waiters.wait(id, timeoutMs * 2);
  }
}
