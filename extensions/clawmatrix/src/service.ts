import { readFileSync } from "node:fs";
import type { Logger } from "@openclaw-bundle/shared";
import type { MeshA2a } from "./a2a/service.ts";
import type { ClawmatrixConfig } from "./config-schema.ts";
import { MeshIdentity } from "./mesh/identity-store.ts";
import { MeshNode } from "./mesh/node.ts";
import { loadListenerTls } from "./mesh/tls.ts";
import { createHandlers } from "./serve/handlers.ts";
import { type LocalGateway, localGatewayFrom, providerEndpoint } from "./serve/local-gateway.ts";
import { ModelProxy } from "./serve/model-proxy.ts";
import { workspaceOf } from "./serve/workspace.ts";

/** The version the mesh's Agent Card gives (the extension's). */
const A2A_CARD_VERSION = "0.1.0";

/**
 * The mesh as a gateway service: the node (links, gossip, relay, serving) and the local model
 * proxy. Started by the gateway's service start, stopped by its stop (leaving the mesh cleanly).
 */
export class MeshService {
  readonly node: MeshNode;
  readonly proxy: ModelProxy;
  readonly config: ClawmatrixConfig;
  readonly identity: MeshIdentity;
  /** The mesh's A2A endpoint, when `a2a.enabled` (made at start: its SDK loads only then). */
  a2a: MeshA2a | undefined;
  readonly #stateDir: string;
  readonly #log: Logger;
  #state: "starting" | "running" | "stopped" | "error" = "starting";
  #error: string | undefined;
  /** Why the TLS files cannot be used; start() fails with it. */
  readonly #tlsProblem: string | undefined;
  readonly #tlsCreated: boolean;

  constructor(
    config: ClawmatrixConfig & { nodeId: string; secret: string },
    hostConfig: () => unknown,
    log: Logger,
    stateDir: string,
  ) {
    this.config = config;
    this.#log = log;
    this.identity = new MeshIdentity(stateDir, config.trustedKeys, log);
    const gateway = (): LocalGateway => localGatewayFrom(hostConfig());
    // Read now (the constructor is synchronous); a problem fails start(), naming the file.
    let listenerTls: ReturnType<typeof loadListenerTls>;
    let ca: string | undefined;
    let tlsProblem: string | undefined;
    try {
      listenerTls = config.listen ? loadListenerTls(config.tls, stateDir, config.nodeId) : undefined;
      if (config.tls.caFile) ca = readCa(config.tls.caFile);
    } catch (err) {
      tlsProblem = (err as Error).message;
    }
    this.#tlsProblem = tlsProblem;
    this.#tlsCreated = listenerTls?.created ?? false;
    this.node = new MeshNode({
      nodeId: config.nodeId,
      secret: config.secret,
      listen: config.listen ? { host: config.listenHost, port: config.listenPort } : undefined,
      peers: config.peers,
      ...(listenerTls ? { tls: listenerTls.tls } : {}),
      ...(ca ? { tlsCa: ca } : {}),
      state: {
        agents: config.agents,
        models: config.models.map((m) => ({ id: m.id, description: m.description })),
        tags: config.tags,
        toolProxy: config.toolProxy.enabled,
      },
      handlers: createHandlers({
        nodeId: config.nodeId,
        config,
        gateway,
        provider: (id) => providerEndpoint(hostConfig(), id),
        workspace: () => workspaceOf(hostConfig()),
        log,
      }),
      logger: log,
      key: this.identity.key,
      dhKey: this.identity.dhKey,
      pins: this.identity.pins,
    });
    this.#stateDir = stateDir;
    this.#log = log;
    this.proxy = new ModelProxy({
      node: this.node,
      secret: config.secret,
      port: config.proxyPort,
      timeoutMs: config.handoffTimeout,
      log,
    });
  }

  get state(): string {
    return this.#state;
  }

  get error(): string | undefined {
    return this.#error;
  }

  async start(): Promise<void> {
    try {
      if (this.#tlsProblem) throw new Error(this.#tlsProblem);
      if (this.#tlsCreated)
        this.#log.info(
          "mesh TLS: made a self-signed certificate in the state volume (clawmatrix/tls-cert.pem)",
        );
      await this.identity.save();
      await this.node.start();
      await this.#startA2a();
      await this.proxy.start();
      this.#state = "running";
    } catch (err) {
      this.#state = "error";
      this.#error = (err as Error).message;
      await this.stop().catch(() => {});
      this.#state = "error";
      throw err;
    }
  }

  async #startA2a(): Promise<void> {
    const c = this.config;
    if (!c.a2a.enabled) return;
    const { MeshA2a } = await import("./a2a/service.ts");
    this.a2a = new MeshA2a({
      node: this.node,
      settings: {
        defaultAgent: c.a2a.defaultAgent,
        maxTasks: c.a2a.maxTasks,
        handoffTimeoutMs: c.handoffTimeout,
      },
      stateDir: this.#stateDir,
      log: this.#log,
      version: A2A_CARD_VERSION,
    });
    await this.a2a.start();
  }

  async stop(): Promise<void> {
    await this.proxy.stop();
    await this.a2a?.stop();
    await this.node.stop();
    await this.identity.flushed();
    if (this.#state !== "error") this.#state = "stopped";
  }
}

function readCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `cannot read the mesh TLS CA file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----"))
    throw new Error(`${file} holds no PEM certificate; expected -----BEGIN CERTIFICATE----- blocks`);
  return text;
}
