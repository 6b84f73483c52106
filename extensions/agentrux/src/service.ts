import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  Backoff,
  errorMessage,
  type Logger,
  Periodic,
  sleep,
  writeFileAtomic,
} from "@openclaw-bundle/shared";
import {
  lastRefusal,
  type Outcome,
  postActivate,
  readCredentials,
  runActivation,
  type StoredCredentials,
} from "./activation.ts";
import { describeInbound, Outbox } from "./attachments.ts";
import { AgentruxClient } from "./client.ts";
import type { AgentruxConfig } from "./config-schema.ts";
import { dispatchRequest, type TurnRequest } from "./dispatch.ts";
import { detectGeneration, type Generation } from "./generation.ts";
import { HintStream } from "./hints.ts";
import { Ingress } from "./ingress.ts";
import { attachmentWire, fitsGeneration, type Position } from "./wire.ts";

/**
 * The AgenTrux account: activation at start, then pull ingress driven by SSE hints (reconnected
 * with backoff) and a safety poller; each request a turn of the host's channel pipeline
 * (`runTurn`), answered on the result topic.
 */

/** How long a stop waits for aborted turns to unwind and the last state to be saved. */
const STOP_GRACE_MS = 3000;

const exists = (f: string) =>
  fs.access(f).then(
    () => true,
    () => false,
  );

export type Config = AgentruxConfig & { commandTopicId: string; resultTopicId: string; agentId: string };

export class AgentruxService {
  activation: Outcome | undefined;
  sse: "connecting" | "open" | "down" | "off" = "off";
  lastError: string | undefined;
  ingress: Ingress | undefined;
  /** The API client once credentials exist (the tools use it too). */
  client: AgentruxClient | undefined;
  credentials: StoredCredentials | undefined;
  /** The API generation the client speaks (generation.ts), once credentials exist. */
  generation: Generation | undefined;
  readonly outbox = new Outbox();
  /** Called once the ingress runs (at start, or after a later activation). */
  onRunning: (() => void) | undefined;
  readonly #c: Config;
  readonly #log: Logger;
  readonly #runTurn: (t: TurnRequest) => Promise<string>;
  readonly #dir: string;
  #abort = new AbortController();
  #poller: Periodic | undefined;
  #hints: HintStream | undefined;

  constructor(c: Config, log: Logger, runTurn: (t: TurnRequest) => Promise<string>, home = os.homedir()) {
    this.#c = c;
    this.#log = log;
    this.#runTurn = runTurn;
    this.#dir = path.join(home, ".agentrux");
  }

  get running(): boolean {
    return this.ingress !== undefined;
  }

  async start(): Promise<void> {
    this.#abort = new AbortController();
    if (!(await this.#activate())) void this.#retryActivation();
  }

  /**
   * agentrux_activate: hands a code to the same file ritual a start uses (BOOTSTRAP.md, 0600) and
   * runs it now. Refuses when credentials exist, as the ritual would quarantine the code.
   */
  async activateWith(code: string): Promise<Outcome> {
    if (this.running || (await exists(path.join(this.#dir, "credentials.json"))))
      return { state: "credentials-present" };
    await fs.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(this.#dir, "BOOTSTRAP.md"), `${code}\n`, { mode: 0o600 });
    await this.#activate();
    return this.activation ?? { state: "no-bootstrap" };
  }

  /** Runs the ritual; true when the ingress is up (credentials present or just obtained). */
  async #activate(): Promise<boolean> {
    this.activation = await runActivation(this.#dir, {
      activate: (code) => postActivate(this.#c.baseUrl, code),
      baseUrl: this.#c.baseUrl,
    });
    if (this.activation.state === "activated") this.#log.info("AgenTrux activated; credentials saved");
    else if (this.activation.state !== "credentials-present")
      this.#log.warn(`AgenTrux activation: ${this.activation.state}`);
    let creds: StoredCredentials | undefined;
    try {
      creds = await readCredentials(this.#dir);
    } catch (err) {
      this.lastError = errorMessage(err);
      return false;
    }
    if (!creds) {
      const refused = this.activation.state === "no-bootstrap" ? await lastRefusal(this.#dir) : undefined;
      this.lastError = noCredentialsReason(
        refused ? { state: "failed", file: refused.file, reason: refused.reason } : this.activation,
      );
      return false;
    }
    this.lastError = undefined;
    try {
      await this.#startIngress(creds);
    } catch (err) {
      this.lastError = errorMessage(err); // e.g. credentials of the other generation than configured
      return false;
    }
    return true;
  }

  /** A broker that did not answer (5xx, network) gets the code again later, not only at the next start. */
  async #retryActivation(): Promise<void> {
    const backoff = new Backoff({ initialMs: 5000, maxMs: 300_000 });
    const signal = this.#abort.signal;
    while (this.activation?.state === "retry-later" && !signal.aborted) {
      try {
        await sleep(backoff.next(), signal);
        if (await this.#activate()) return;
      } catch (err) {
        if (signal.aborted) return;
        this.lastError = errorMessage(err);
      }
    }
  }

  async #startIngress(creds: StoredCredentials): Promise<void> {
    const g = detectGeneration({
      setting: this.#c.apiGeneration,
      credentials: creds,
      topicIds: [this.#c.commandTopicId, this.#c.resultTopicId],
    });
    this.generation = g.generation;
    this.#log.info(`AgenTrux API: ${g.generation} (${g.because})`);
    const client = new AgentruxClient({
      baseUrl: this.#c.baseUrl,
      generation: g.generation,
      scriptId: creds.script_id,
      clientId: creds.client_id,
      clientSecret: creds.client_secret,
    });
    const ingress = new Ingress({
      dir: this.#dir,
      topic: this.#c.commandTopicId,
      maxConcurrency: this.#c.maxConcurrency,
      // The live service leaves out what this client published itself (a shared topic echoes).
      read: (t, after, limit) => client.read(t, after, limit, { excludeSelf: true }),
      head: (t) => client.head(t, { excludeSelf: true }),
      start: client.start,
      fits: (p): p is Position => fitsGeneration(client.generation, p),
      onCursorExpired: (from, oldest) =>
        this.#log.warn(
          `AgenTrux: the cursor ${JSON.stringify(from)} on ${this.#c.commandTopicId} aged out of the topic's retention; reading again from the oldest event kept (${oldest ?? "none"}); events older than that are gone, answered ones are not answered twice`,
        ),
      dispatch: (ev) =>
        dispatchRequest(ev, {
          commandTopic: this.#c.commandTopicId,
          resultTopic: this.#c.resultTopicId,
          timeoutMs: this.#c.subagentTimeoutMs,
          runTurn: this.#runTurn,
          publish: (t, e) => client.publish(t, e),
          signal: this.#abort.signal,
          wireAttachment: (a) => attachmentWire(client.generation, a),
          describeAttachments: (a) => describeInbound(client, this.#c.commandTopicId, a),
          outbox: this.outbox,
        }),
    });
    this.ingress = ingress;
    this.client = client;
    this.credentials = creds;
    this.onRunning?.();
    const drain = () =>
      ingress.drain().catch((err) => {
        this.lastError = errorMessage(err);
        this.#log.warn(`AgenTrux drain failed: ${this.lastError}`);
      });
    await drain();
    this.#poller = new Periodic({ name: "agentrux safety poll", intervalMs: this.#c.pollIntervalMs }, drain);
    this.#poller.start();
    this.#hints = new HintStream({
      // Resumes after the waterline: a query (seed) or the Last-Event-ID header (live).
      request: () => client.streamRequest(this.#c.commandTopicId, this.ingress?.waterline),
      client,
      onHint: () => void drain(),
      onOpen: () => void drain(), // events published while the stream was down
      onState: (state, error) => {
        this.sse = state;
        if (error) this.lastError = error;
      },
    });
    this.#hints.start();
  }

  /**
   * Stops reading and abandons the turns in progress; they stay recorded as in flight and are
   * handled again on the next start (their events are still past the waterline).
   */
  async stop(): Promise<void> {
    this.ingress?.stop();
    this.#abort.abort();
    await this.#poller?.stop();
    await this.#hints?.stop();
    await Promise.race([this.ingress?.idle(), sleep(STOP_GRACE_MS)]);
  }
}

/** Why there are no credentials, and what the user does about it; never the code itself. */
function noCredentialsReason(a: Outcome): string {
  const fix = "put a new activation code in ~/.agentrux/BOOTSTRAP.md (AGENTRUX_ACTIVATION_CODE)";
  switch (a.state) {
    case "failed":
      return `AgenTrux refused the activation code (${a.reason}); it was set aside as ${path.basename(a.file)}; ${fix}`;
    case "retry-later":
      return `AgenTrux activation did not complete (${a.detail}); the code is kept and tried again on the next start`;
    case "inflight-present":
      return "an earlier activation was interrupted (BOOTSTRAP.md.inflight is left alone: the code may have been spent); check the AgenTrux console, then remove the file or issue a new code";
    default:
      return `no AgenTrux credentials: ${fix}`;
  }
}
