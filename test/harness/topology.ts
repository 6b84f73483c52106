import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { type AgentruxApiOptions, parseGrants } from "../mocks/broker/agentrux-api.ts";
import { type MockBroker, startMockBroker } from "../mocks/broker/server.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";
import { type MockRegistry, startMockRegistry } from "../mocks/registry/server.ts";
import { type GatewayProcess, type GatewaySpec, runRoot, startGateways, stopGateways } from "./gateway.ts";
import { findNode24, openclawEntry, REPO_ROOT } from "./node24.ts";
import { freePort } from "./ports.ts";

/**
 * The test topology of docker-compose.yml as local processes: the mocks in this process, each
 * node through entrypoint.sh with its own HOME and the environment of its compose service. Service
 * hosts and container ports in that environment are mapped onto 127.0.0.1 through the service's
 * published ports (or free ports, so a test never collides with a running `npm start`).
 */

export const COMPOSE_FILE = path.join(REPO_ROOT, "docker-compose.yml");

const service = z.object({
  hostname: z.string().optional(),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  ports: z.array(z.string()).optional(),
});
const composeSchema = z.object({ services: z.record(z.string(), service) });
type Service = z.infer<typeof service>;

/** Compose's `${VAR}` / `${VAR:-default}` interpolation, from the given environment. */
export function interpolate(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
    const v = env[name];
    return v !== undefined && v !== "" ? v : (def ?? "");
  });
}

/** Container port -> published host port, from `[ip:]host:container` entries. */
function publishedPorts(svc: Service, env: NodeJS.ProcessEnv): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of svc.ports ?? []) {
    const parts = interpolate(p, env).split(":");
    const container = Number(parts.at(-1));
    const host = Number(parts.at(-2));
    if (Number.isInteger(container) && Number.isInteger(host)) out.set(container, host);
  }
  return out;
}

function argValue(cmd: string[] | undefined, flag: string): string | undefined {
  const i = cmd?.indexOf(flag) ?? -1;
  return i >= 0 ? cmd?.[i + 1] : undefined;
}

/** The broker's preset AgenTrux script and code, as its compose command and environment give them. */
function agentruxPreset(svc: Service, env: NodeJS.ProcessEnv): AgentruxApiOptions {
  const grants = argValue(svc.command, "--agentrux-grants");
  const code = interpolate(String(svc.environment?.MOCK_AGENTRUX_ACTIVATION_CODE ?? ""), env);
  return grants && code ? { preset: { grants: parseGrants(grants), activationCode: code } } : {};
}

const PORT_VARS = ["OPENCLAW_GATEWAY_PORT", "CLAWMATRIX_LISTEN_PORT", "CLAWMATRIX_PROXY_PORT", "PILOT_PORT"];

export interface TopologyOptions {
  /** Map every published port onto a free one instead of the compose file's (tests). */
  freePorts?: boolean;
  /** Environment for `${VAR}` interpolation (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  root?: string;
}

/**
 * A gateway started as the image starts it: through entrypoint.sh, which writes openclaw.json from
 * `env` (the node's variables), with its own HOME under `root` and Node 24 on PATH.
 */
export function entrypointSpec(
  name: string,
  env: Record<string, string>,
  root: string,
  hostname = name,
): GatewaySpec & { port: number } {
  const node = findNode24();
  const home = path.join(root, name);
  return {
    name,
    port: Number(env.OPENCLAW_GATEWAY_PORT ?? 18789),
    launch: {
      command: [path.join(REPO_ROOT, "entrypoint.sh")],
      token: env.OPENCLAW_GATEWAY_TOKEN ?? "",
      home,
      env: {
        ...env,
        PATH: `${path.dirname(node)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        HOME: home,
        HOSTNAME: hostname,
        OPENCLAW_BUNDLE_NODE: node,
        OPENCLAW_COMMAND: `${node} ${openclawEntry()}`,
      },
    },
  };
}

export class Topology {
  readonly nodes: GatewayProcess[] = [];
  llm: MockLlm | undefined;
  broker: MockBroker | undefined;
  registry: MockRegistry | undefined;
  /** Per service: container port -> port on 127.0.0.1. */
  readonly ports = new Map<string, Map<number, number>>();
  readonly root: string;
  private readonly services: Record<string, Service>;
  private readonly opts: TopologyOptions;

  constructor(opts: TopologyOptions = {}) {
    this.opts = opts;
    this.root = opts.root ?? runRoot();
    const doc = parse(readFileSync(COMPOSE_FILE, "utf8"), { merge: true });
    this.services = composeSchema.parse(doc).services;
  }

  node(name: string): GatewayProcess {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node named ${name}`);
    return n;
  }

  /**
   * Every port a service listens on gets a loopback port: its published one (or a free one with
   * `freePorts`), and a free one for ports compose keeps inside the container network (the mocks',
   * the model proxy's), since local processes all share one host.
   */
  private async mapPorts(): Promise<void> {
    const env = this.opts.env ?? process.env;
    for (const [name, svc] of Object.entries(this.services)) {
      const map = new Map<number, number>();
      for (const [container, host] of publishedPorts(svc, env))
        map.set(container, this.opts.freePorts ? await freePort() : host);
      const inner = [
        Number(argValue(svc.command, "--port")),
        ...PORT_VARS.map((k) => Number(interpolate(String(svc.environment?.[k] ?? ""), env))),
      ];
      for (const port of inner) if (port > 0 && !map.has(port)) map.set(port, await freePort());
      this.ports.set(name, map);
    }
  }

  /** A node's compose environment, with service hosts and ports moved onto loopback. */
  nodeEnv(name: string): Record<string, string> {
    const env = this.opts.env ?? process.env;
    const svc = this.services[name] as Service;
    const own = this.ports.get(name) ?? new Map<number, number>();
    const out: Record<string, string> = {};
    for (const [k, raw] of Object.entries(svc.environment ?? {})) {
      let v = interpolate(String(raw), env);
      v = v.replace(/\/\/([a-z0-9-]+):(\d+)/g, (m, host: string, port: string) => {
        const mapped = this.ports.get(host)?.get(Number(port));
        return mapped ? `//127.0.0.1:${mapped}` : m;
      });
      if (PORT_VARS.includes(k) && own.has(Number(v))) v = String(own.get(Number(v)));
      out[k] = v;
    }
    out.OPENCLAW_GATEWAY_BIND = "loopback";
    // Local processes share the host's interfaces: the mesh listener stays on loopback (not the
    // image's 0.0.0.0, open to the LAN) unless the caller's environment names another address.
    out.CLAWMATRIX_LISTEN_HOST = env.CLAWMATRIX_LISTEN_HOST ?? "127.0.0.1";
    return out;
  }

  private isNode(svc: Service): boolean {
    return Boolean(svc.environment && "OPENCLAW_GATEWAY_TOKEN" in svc.environment);
  }

  async start(): Promise<void> {
    await this.mapPorts();
    const llmSvc = this.services["mock-llm"];
    if (llmSvc) {
      this.llm = await startMockLlm({
        name: "mock-llm",
        port: this.ports.get("mock-llm")?.get(Number(argValue(llmSvc.command, "--port"))) ?? 0,
        models: (argValue(llmSvc.command, "--models") ?? "mock-model").split(","),
      });
    }
    const brokerSvc = this.services["mock-broker"];
    if (brokerSvc) {
      const env = this.opts.env ?? process.env;
      this.broker = await startMockBroker({
        port: this.ports.get("mock-broker")?.get(Number(argValue(brokerSvc.command, "--port"))) ?? 0,
        agentrux: agentruxPreset(brokerSvc, env),
        lease: {
          credentials: Number(argValue(brokerSvc.command, "--credentials") ?? 1),
          token: interpolate(String(brokerSvc.environment?.MOCK_BROKER_LEASE_TOKEN ?? ""), env) || undefined,
        },
      });
    }
    const registrySvc = this.services["mock-registry"];
    if (registrySvc) {
      const env = this.opts.env ?? process.env;
      this.registry = await startMockRegistry({
        port: this.ports.get("mock-registry")?.get(Number(argValue(registrySvc.command, "--port"))) ?? 0,
        apiKey: interpolate(String(registrySvc.environment?.MOCK_REGISTRY_API_KEY ?? ""), env) || undefined,
      });
    }
    const specs = Object.entries(this.services)
      .filter(([, svc]) => this.isNode(svc))
      .map(([name, svc]) => entrypointSpec(name, this.nodeEnv(name), this.root, svc.hostname));
    try {
      this.nodes.push(...(await startGateways(specs, this.root)));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** SIGTERM to every node (then SIGKILL of its process group after the grace), then the mocks. */
  async stop(): Promise<void> {
    await stopGateways(this.nodes);
    await this.broker?.close();
    await this.registry?.close();
    await this.llm?.close();
    this.broker = undefined;
    this.registry = undefined;
    this.llm = undefined;
  }
}
