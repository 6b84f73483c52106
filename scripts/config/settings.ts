import os from "node:os";
import type { BundleExtensionId } from "@openclaw-bundle/shared";
import type { z } from "zod";
import { pilotHostname } from "../../extensions/agent-registry/src/pilot/hostname.ts";
import { ROTATION_POLICIES } from "../../extensions/auth-manager/src/config-schema.ts";
import { isLocalHost } from "../../extensions/auth-manager/src/status.ts";
import { clawmatrixConfig } from "../../extensions/clawmatrix/src/config-schema.ts";
import {
  FINGERPRINT_EXPECTED,
  normalizeFingerprint,
} from "../../extensions/clawmatrix/src/protocol/tls-cert.ts";
import { type A2aSettings, readA2a, readMeshA2a } from "./a2a.ts";
import { type Env, EnvReader } from "./env-fields.ts";
import type { Identity } from "./identity.ts";
import { readStatefulSet } from "./statefulset.ts";

/**
 * The container contract's environment (ARCHITECTURE.md, "The container contract"), read once and
 * turned into the settings the config patcher writes. Every problem is collected, so one boot
 * reports all of them, one line each.
 */

interface ExtensionSettings {
  enabled: boolean;
  /** Why it is off, naming the variable that turns it on. */
  disabledReason?: string;
  /** Plugin config from env; secrets as `${VAR}` references. */
  config: Record<string, unknown>;
}

export interface Settings {
  gateway: { port: number; bind: string; tokenRef: string | undefined };
  /** The agents' default model, when the env names an OpenAI-compatible endpoint. */
  llm?: { baseUrl: string; apiKeyRef?: string; model: string };
  extensions: Record<BundleExtensionId, ExtensionSettings>;
  /** The host's A2A channel, when A2A_ENABLED is set (true or false); unset leaves it alone. */
  a2a?: A2aSettings;
  /** True when the mesh serves models, so the gateway's chatCompletions endpoint must be on. */
  servesModels: boolean;
  /** One-time AgenTrux activation code (a secret: never printed). */
  activationCode?: string;
  /** The Pilot daemon's flags, when AGENT_REGISTRY_URL and PILOT_REGISTRY are set. */
  pilot?: {
    port: number;
    publicIp?: string;
    /** `host:port` with the port in canonical decimal (`host:08` becomes `host:8`). */
    registry: string;
    /** The registry host with port + 1, as the daemon and the extension derive it. */
    beacon: string;
    hostname: string;
    socket: string;
  };
  /** The home directory: the state under it (.openclaw, .pilot, .agentrux) lives in the volume. */
  home: string;
  /** Each id of an enabled extension, and where it came from (a variable, or the identity). */
  ids: Array<{ what: string; value: string; from: string }>;
  /** Names of variables holding secrets that are set. */
  secretVars: string[];
}

type SettingsResult = { ok: true; settings: Settings } | { ok: false; problems: string[] };

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ID_EXPECTED = "1-128 characters of [A-Za-z0-9._-], starting with a letter or digit";
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const HOST_PORT = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/;
// Values that reach the Pilot daemon's command line, one argument per line: no control characters.
const PRINTABLE = /^[^\p{Cc}]{1,256}$/u;
const PRINTABLE_EXPECTED = "1-256 characters, no control characters";
const ABSOLUTE_PATH = /^\/[^\p{Cc}]{0,1023}$/u;
/** An address to bind: an IPv4 or IPv6 literal (`0.0.0.0`, `127.0.0.1`, `::`, `::1`) or a host name. */
const LISTEN_HOST = /^([0-9a-fA-F:.]{2,45}|[A-Za-z0-9]([A-Za-z0-9.-]{0,252}))$/;
const LISTEN_HOST_EXPECTED = "an IP address to bind (0.0.0.0 for all, 127.0.0.1 for loopback) or a host name";
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const GATEWAY_BINDS = ["lan", "loopback", "auto", "tailnet"] as const;

function defaultHost(env: Env): string {
  const h = env.HOSTNAME?.trim() || os.hostname();
  return ID.test(h) ? h : "openclaw";
}

/** `id=<value>,id2=<value>` with every value matching `valueOk`; undefined when unset. */
function readIdPairs(
  r: EnvReader,
  name: string,
  valueOk: RegExp,
  expected: string,
): Array<[string, string]> | undefined {
  const v = r.raw(name);
  if (v === undefined) return undefined;
  const out: Array<[string, string]> = [];
  for (const part of v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    const nodeId = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (eq <= 0 || !ID.test(nodeId) || !valueOk.test(value))
      return r.problem(name, `entry ${EnvReader.shown(part)} is not valid`, expected);
    out.push([nodeId, value]);
  }
  return out;
}

const PEERS_EXPECTED = `id=ws://host:port[,id=wss://host:port#${FINGERPRINT_EXPECTED}...]`;

/**
 * `id=ws://host:port,id2=wss://host:port#sha256=<hex>`: a wss:// peer's certificate fingerprint
 * rides in the URL's fragment (never sent on the wire), pinned by the dialer (PROTOCOL §2a).
 */
function readPeers(
  r: EnvReader,
  hasCa: boolean,
): Array<{ nodeId: string; url: string; fingerprint?: string }> | undefined {
  const pairs = readIdPairs(r, "CLAWMATRIX_PEERS", /^wss?:\/\/[^\s,#]+(#[^\s,]*)?$/, PEERS_EXPECTED);
  if (!pairs) return undefined;
  const out: Array<{ nodeId: string; url: string; fingerprint?: string }> = [];
  for (const [nodeId, value] of pairs) {
    const hash = value.indexOf("#");
    const url = hash < 0 ? value : value.slice(0, hash);
    const fragment = hash < 0 ? undefined : value.slice(hash + 1);
    const fingerprint = fragment?.startsWith("sha256=") ? normalizeFingerprint(fragment.slice(7)) : undefined;
    const shown = EnvReader.shown(`${nodeId}=${value}`);
    if (fragment !== undefined && !fingerprint)
      return r.problem("CLAWMATRIX_PEERS", `entry ${shown} has a bad fingerprint`, FINGERPRINT_EXPECTED);
    if (fingerprint && !url.startsWith("wss://"))
      return r.problem("CLAWMATRIX_PEERS", `entry ${shown} pins a fingerprint on ws://`, "wss:// with a pin");
    if (url.startsWith("wss://") && !fingerprint && !hasCa)
      return r.problem(
        "CLAWMATRIX_PEERS",
        `entry ${shown} is wss:// with no pinned fingerprint and CLAWMATRIX_TLS_CA_FILE is not set`,
        `#${FINGERPRINT_EXPECTED} after the URL, or a CA file`,
      );
    out.push({ nodeId, url, ...(fingerprint ? { fingerprint } : {}) });
  }
  return out;
}

/** The listener's certificate and the CA for wss:// dialing (PROTOCOL §2a). */
function readTls(r: EnvReader): Record<string, unknown> {
  const file = { pattern: ABSOLUTE_PATH, max: 1024, expected: "an absolute path" };
  const certFile = r.string("CLAWMATRIX_TLS_CERT_FILE", file);
  const keyFile = r.string("CLAWMATRIX_TLS_KEY_FILE", file);
  const selfSigned = r.bool("CLAWMATRIX_TLS_SELF_SIGNED");
  if ((certFile === undefined) !== (keyFile === undefined))
    r.problem(
      certFile ? "CLAWMATRIX_TLS_KEY_FILE" : "CLAWMATRIX_TLS_CERT_FILE",
      "not set while its pair is",
      "CLAWMATRIX_TLS_CERT_FILE and CLAWMATRIX_TLS_KEY_FILE together",
    );
  if (certFile && selfSigned)
    r.problem("CLAWMATRIX_TLS_SELF_SIGNED", "set together with certificate files", "one or the other");
  return { certFile, keyFile, selfSigned, caFile: r.string("CLAWMATRIX_TLS_CA_FILE", file) };
}

/** `id=<Ed25519 public key, base64url>,...`: keys those nodes must present (PROTOCOL §3b). */
function readTrustedKeys(r: EnvReader): Array<{ nodeId: string; key: string }> | undefined {
  return readIdPairs(
    r,
    "CLAWMATRIX_TRUSTED_KEYS",
    /^[A-Za-z0-9_-]{43}$/,
    "id=<43-character base64url Ed25519 public key>[,id=<key>...]",
  )?.map(([nodeId, key]) => ({ nodeId, key }));
}

/** The StatefulSet's relays first, then any CLAWMATRIX_PEERS outside the set (one entry per id). */
function mergePeers<T extends { nodeId: string }>(derived: T[], explicit: T[] | undefined): T[] {
  const out = [...derived];
  for (const p of explicit ?? []) if (!out.some((d) => d.nodeId === p.nodeId)) out.push(p);
  return out;
}

/** `off`, `on`, or `allow=a,b;deny=c` (either part optional). */
function readToolProxy(r: EnvReader): Record<string, unknown> | undefined {
  const v = r.raw("CLAWMATRIX_TOOL_PROXY");
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (["off", "false", "0", "no"].includes(lower)) return { enabled: false };
  if (["on", "true", "1", "yes"].includes(lower)) return { enabled: true };
  const out: Record<string, unknown> = { enabled: true };
  for (const part of v
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(allow|deny)=([^=]*)$/.exec(part);
    const names =
      m?.[2]
        ?.split(",")
        .map((s) => s.trim())
        .filter(Boolean) ?? [];
    if (!m || names.some((n) => !/^[A-Za-z0-9_.*-]{1,64}$/.test(n)))
      return r.problem(
        "CLAWMATRIX_TOOL_PROXY",
        `part ${EnvReader.shown(part)} is not valid`,
        "off, on, or allow=a,b;deny=c",
      );
    out[m[1] as string] = names;
  }
  return out;
}

function mesh(
  r: EnvReader,
  host: string,
): { ext: ExtensionSettings; servesModels: boolean; fromPodName?: boolean } {
  const secret = r.secret("CLAWMATRIX_SECRET");
  if (!r.has("CLAWMATRIX_SECRET"))
    return {
      ext: { enabled: false, disabledReason: "CLAWMATRIX_SECRET is not set", config: {} },
      servesModels: false,
    };
  const shape = (clawmatrixConfig.schema as unknown as z.ZodObject<z.ZodRawShape>).shape;
  const element = (key: string) => (shape[key] as z.ZodDefault<z.ZodArray<z.ZodType>>).unwrap().element;
  const listenPort = r.port("CLAWMATRIX_LISTEN_PORT");
  const tls = readTls(r);
  const explicitPeers = readPeers(r, tls.caFile !== undefined);
  // The pod name, not the identity: it is the name the other replicas dial and expect.
  const set = readStatefulSet(r, r.env.HOSTNAME?.trim() || os.hostname(), listenPort, tls);
  const config: Record<string, unknown> = {
    nodeId: set?.nodeId ?? r.string("CLAWMATRIX_NODE_ID", { pattern: ID, expected: ID_EXPECTED }) ?? host,
    secret,
    listen: r.bool("CLAWMATRIX_LISTEN") ?? set?.relay ?? false,
    listenHost: r.string("CLAWMATRIX_LISTEN_HOST", { pattern: LISTEN_HOST, expected: LISTEN_HOST_EXPECTED }),
    listenPort,
    peers: set ? mergePeers(set.peers, explicitPeers) : explicitPeers,
    tls,
    trustedKeys: readTrustedKeys(r),
    tags: r.list("CLAWMATRIX_TAGS"),
    agents: r.jsonArray("CLAWMATRIX_AGENTS", element("agents"), '[{"id":"main","tags":["review"]}]'),
    models: r.jsonArray("CLAWMATRIX_MODELS", element("models"), '[{"id":"gpt-4o","provider":"openai"}]'),
    proxyModels: r.jsonArray(
      "CLAWMATRIX_PROXY_MODELS",
      element("proxyModels"),
      '[{"id":"gpt-4o","nodeId":"node-b"}]',
    ),
    proxyPort: r.port("CLAWMATRIX_PROXY_PORT"),
    toolProxy: readToolProxy(r),
  };
  const models = config.models as unknown[] | undefined;
  return {
    ext: { enabled: true, config },
    servesModels: (models?.length ?? 0) > 0,
    fromPodName: set !== undefined,
  };
}

function agentrux(r: EnvReader): ExtensionSettings {
  const command = r.string("AGENTRUX_COMMAND_TOPIC_ID", { pattern: TOPIC, expected: "a topic id" });
  const result = r.string("AGENTRUX_RESULT_TOPIC_ID", { pattern: TOPIC, expected: "a topic id" });
  const config: Record<string, unknown> = {
    baseUrl: r.url("AGENTRUX_BASE_URL"),
    commandTopicId: command,
    resultTopicId: result,
    agentId: r.string("AGENTRUX_AGENT_ID", { pattern: ID, expected: ID_EXPECTED }) ?? "main",
    subagentTimeoutMs: r.int("AGENTRUX_SUBAGENT_TIMEOUT_MS", 1000, 3_600_000),
    apiGeneration: r.oneOf("AGENTRUX_API_GENERATION", ["auto", "seed", "live"] as const),
  };
  const hasCommand = r.has("AGENTRUX_COMMAND_TOPIC_ID");
  const hasResult = r.has("AGENTRUX_RESULT_TOPIC_ID");
  if (!hasCommand && !hasResult)
    return { enabled: false, disabledReason: "AGENTRUX_COMMAND_TOPIC_ID is not set", config: {} };
  if (!hasCommand)
    r.problem("AGENTRUX_COMMAND_TOPIC_ID", "not set", "set together with AGENTRUX_RESULT_TOPIC_ID");
  if (!hasResult)
    r.problem("AGENTRUX_RESULT_TOPIC_ID", "not set", "set together with AGENTRUX_COMMAND_TOPIC_ID");
  return { enabled: true, config };
}

/**
 * `host:port` of the Pilot rendezvous. The beacon listens on port + 1, so the port is 1-65534;
 * it is read as decimal here, so the shell never does arithmetic on it (`08` is octal to bash).
 */
function readPilotRegistry(r: EnvReader): { registry: string; beacon: string } | undefined {
  const v = r.string("PILOT_REGISTRY", {
    pattern: HOST_PORT,
    expected: "host:port with a port 1-65534 (the beacon is port + 1)",
  });
  if (v === undefined) return undefined;
  const colon = v.lastIndexOf(":");
  const host = v.slice(0, colon);
  const port = Number(v.slice(colon + 1));
  if (port < 1 || port > 65534)
    return r.problem(
      "PILOT_REGISTRY",
      `port ${port} is out of range`,
      "host:port with a port 1-65534 (the beacon is port + 1)",
    );
  return { registry: `${host}:${port}`, beacon: `${host}:${port + 1}` };
}

function registry(r: EnvReader, host: string): { ext: ExtensionSettings; pilot?: Settings["pilot"] } {
  const url = r.url("AGENT_REGISTRY_URL");
  const pilotPort = r.port("PILOT_PORT");
  const publicIp = r.string("PILOT_PUBLIC_IP", { pattern: IPV4, expected: "an IPv4 address" });
  const pilotRegistry = readPilotRegistry(r);
  const socket = r.string("PILOT_SOCKET", { pattern: ABSOLUTE_PATH, expected: "an absolute path" });
  const installationId = r.string("INSTALLATION_ID", { pattern: PRINTABLE, expected: PRINTABLE_EXPECTED });
  if (!r.has("AGENT_REGISTRY_URL"))
    return { ext: { enabled: false, disabledReason: "AGENT_REGISTRY_URL is not set", config: {} } };
  const pilot = pilotRegistry && {
    port: pilotPort ?? 4000,
    publicIp,
    ...pilotRegistry,
    // The daemon silently drops a -hostname Pilot refuses: a name it takes, as the extension derives it.
    hostname: pilotHostname(installationId ?? host),
    socket: socket ?? "/tmp/pilot.sock",
  };
  const config: Record<string, unknown> = {
    registryUrl: url,
    registryApiKey: r.secret("AGENT_REGISTRY_API_KEY"),
    hostname: host,
    installationId: installationId ?? host,
    capabilities: r.list("AGENT_CAPABILITIES", 20),
    contactTimeoutSeconds: r.int("AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS", 1, 600),
    pilot: pilot
      ? {
          port: pilot.port,
          publicIp,
          registry: pilot.registry,
          binDir: r.string("PILOT_BIN_DIR", { max: 1024 }),
        }
      : undefined,
  };
  return { ext: { enabled: true, config }, pilot };
}

function lease(r: EnvReader, host: string): ExtensionSettings {
  const url = r.url("AUTH_MANAGER_BASE_URL");
  const token = r.secret("AUTH_MANAGER_INTERNAL_API_TOKEN");
  const config: Record<string, unknown> = {
    baseUrl: url,
    internalApiToken: token,
    machineId: r.string("AUTH_MANAGER_MACHINE_ID", { max: 256 }) ?? host,
    agentId: r.string("AUTH_MANAGER_AGENT_ID", { max: 256 }),
    leaseId: r.string("AUTH_MANAGER_LEASE_ID", { max: 256 }),
    autoRenew: r.bool("AUTH_MANAGER_AUTO_RENEW"),
    autoRotate: r.bool("AUTH_MANAGER_AUTO_ROTATE"),
    releaseLeaseOnShutdown: r.bool("AUTH_MANAGER_RELEASE_LEASE_ON_SHUTDOWN"),
    allowHttp: r.bool("AUTH_MANAGER_ALLOW_HTTP"),
    rotationPolicy: r.oneOf("AUTH_MANAGER_ROTATION_POLICY", ROTATION_POLICIES),
    telemetryIntervalMs: r.int("AUTH_MANAGER_TELEMETRY_INTERVAL_MS", 1000, 3_600_000),
  };
  if (!r.has("AUTH_MANAGER_BASE_URL"))
    return { enabled: false, disabledReason: "AUTH_MANAGER_BASE_URL is not set", config: {} };
  // The extension's own rule (its status reports it as a config problem), checked here so the
  // container refuses to start instead of starting and turning unhealthy.
  if (url?.startsWith("http:") && !isLocalHost(url) && config.allowHttp !== true)
    r.problem(
      "AUTH_MANAGER_BASE_URL",
      `${EnvReader.shown(url)} is plain http off localhost`,
      "an https:// URL, or AUTH_MANAGER_ALLOW_HTTP=true for a broker on a private network",
    );
  if (!r.has("AUTH_MANAGER_INTERNAL_API_TOKEN"))
    r.problem(
      "AUTH_MANAGER_INTERNAL_API_TOKEN",
      "not set",
      "the broker's bearer token when AUTH_MANAGER_BASE_URL is set",
    );
  return { enabled: true, config };
}

/**
 * `identity` is the node's stable name from the state volume (identity.ts); without it (the first,
 * validating pass, and unit tests) the ids default to the hostname.
 */
export function readSettings(env: Env, identity?: Identity): SettingsResult {
  const r = new EnvReader(env);
  const host = identity?.name ?? defaultHost(env);
  // Refused rather than guessed: a home taken from /etc/passwd may lie outside the state volume,
  // and the Pilot identity, AgenTrux credentials and openclaw.json would not survive a recreate.
  const home = env.HOME?.trim();
  if (!home)
    r.problem("HOME", "not set", "the absolute home directory holding .openclaw, .pilot and .agentrux");
  else if (!home.startsWith("/"))
    r.problem("HOME", `${EnvReader.shown(home)} is not absolute`, "an absolute path such as /home/node");
  const tokenRef = r.secret("OPENCLAW_GATEWAY_TOKEN");
  if (!r.has("OPENCLAW_GATEWAY_TOKEN"))
    r.problem("OPENCLAW_GATEWAY_TOKEN", "not set", "the gateway's auth token (at least 16 characters)");
  const gateway = {
    port: r.port("OPENCLAW_GATEWAY_PORT") ?? 18789,
    bind: r.oneOf("OPENCLAW_GATEWAY_BIND", GATEWAY_BINDS) ?? "lan",
    tokenRef,
  };
  const llmUrl = r.url("OPENCLAW_LLM_BASE_URL");
  // The provider issues this key and its format varies, so it gets a lower floor (8) than the
  // secrets the operator makes up (16); 8 still catches a truncated or placeholder value.
  const llmKey = r.secret("OPENCLAW_LLM_API_KEY", 8, "the provider's key; unset for a server without auth");
  const llmModel = r.string("OPENCLAW_LLM_MODEL", {
    pattern: /^[A-Za-z0-9._:/-]{1,128}$/,
    expected: "a model id",
  });
  const m = mesh(r, host);
  const reg = registry(r, host);
  const extensions: Record<BundleExtensionId, ExtensionSettings> = {
    clawmatrix: m.ext,
    "agentrux-openclaw-plugin": agentrux(r),
    "agent-registry": reg.ext,
    "auth-manager-lease-telemetry": lease(r, host),
  };
  const a2a = readA2a(r);
  const meshA2a = readMeshA2a(r, a2a);
  if (meshA2a && m.ext.enabled) m.ext.config.a2a = meshA2a;
  const activationCode = r.raw("AGENTRUX_ACTIVATION_CODE");
  if (activationCode !== undefined) {
    r.secrets.add("AGENTRUX_ACTIVATION_CODE");
    if (!/^act?_[A-Za-z0-9_-]{20,200}$/.test(activationCode))
      r.problem(
        "AGENTRUX_ACTIVATION_CODE",
        "the code has the wrong shape",
        "ac_ (seed API) or act_ (live API) followed by 20-200 characters of [A-Za-z0-9_-]",
      );
  }
  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  const ids: Settings["ids"] = [];
  const id = (
    ext: BundleExtensionId,
    what: string,
    key: string,
    variable?: string,
    from = "the identity",
  ) => {
    const value = extensions[ext].enabled ? extensions[ext].config[key] : undefined;
    if (typeof value === "string")
      ids.push({ what, value, from: variable && r.has(variable) ? variable : from });
  };
  const podName = "HOSTNAME, the StatefulSet pod name";
  id("clawmatrix", "mesh node id", "nodeId", "CLAWMATRIX_NODE_ID", m.fromPodName ? podName : undefined);
  id("agent-registry", "registry hostname", "hostname");
  id("agent-registry", "installation id and Pilot hostname", "installationId", "INSTALLATION_ID");
  id("auth-manager-lease-telemetry", "lease machine id", "machineId", "AUTH_MANAGER_MACHINE_ID");
  for (const ext of Object.values(extensions)) ext.config = dropUndefined(ext.config);
  return {
    ok: true,
    settings: {
      gateway,
      llm: llmUrl ? { baseUrl: llmUrl, apiKeyRef: llmKey, model: llmModel ?? "default" } : undefined,
      extensions,
      servesModels: m.servesModels,
      ...(a2a ? { a2a: { channel: dropUndefined(a2a.channel) } } : {}),
      activationCode,
      pilot: extensions["agent-registry"].enabled ? reg.pilot : undefined,
      home: home as string,
      ids,
      secretVars: [...r.secrets],
    },
  };
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[k] =
      v && typeof v === "object" && !Array.isArray(v) ? dropUndefined(v as Record<string, unknown>) : v;
  }
  return out;
}
