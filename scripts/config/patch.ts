import { BUNDLE_EXTENSIONS, type BundleExtensionId } from "@openclaw-bundle/shared";
import { A2A_MANAGED_KEYS } from "./a2a.ts";
import { deletePath, getPath, isObj, type Obj, setPath } from "./json-path.ts";
import { applyPlatform, type Owned, type PlatformConfig, type PlatformContext } from "./platform.ts";
import type { Settings } from "./settings.ts";

/**
 * Brings a parsed openclaw.json to the desired state. Pure: (current config, settings, platform
 * config) -> new config plus what changed. The bundle owns exactly the keys it writes here; every
 * other key is carried over untouched and in its original order.
 */

const PROVIDER_ID = "bundle-llm";

/** Config keys (relative to `plugins.entries.<id>.config`) that belong to env. */
const MANAGED_CONFIG_KEYS: Record<BundleExtensionId, string[]> = {
  clawmatrix: [
    "nodeId",
    "secret",
    "listen",
    "listenHost",
    "listenPort",
    "peers",
    "trustedKeys",
    "tags",
    "agents",
    "models",
    "proxyModels",
    "proxyPort",
    "toolProxy.enabled",
    "toolProxy.allow",
    "toolProxy.deny",
    "tls.certFile",
    "tls.keyFile",
    "tls.selfSigned",
    "tls.caFile",
    "a2a.enabled",
    "a2a.defaultAgent",
    "a2a.advertisedUrl",
    "a2a.rateLimitPerMinute",
  ],
  "agentrux-openclaw-plugin": [
    "baseUrl",
    "commandTopicId",
    "resultTopicId",
    "agentId",
    "subagentTimeoutMs",
    "apiGeneration",
  ],
  "agent-registry": [
    "registryUrl",
    "registryApiKey",
    "hostname",
    "installationId",
    "capabilities",
    "contactTimeoutSeconds",
    "pilot.port",
    "pilot.publicIp",
    "pilot.registry",
    "pilot.binDir",
  ],
  "auth-manager-lease-telemetry": [
    "baseUrl",
    "internalApiToken",
    "machineId",
    "agentId",
    "leaseId",
    "autoRenew",
    "autoRotate",
    "releaseLeaseOnShutdown",
    "allowHttp",
    "rotationPolicy",
    "telemetryIntervalMs",
  ],
};

interface PatchContext extends PlatformContext {
  /** The ownership record of the platform patches; undefined for a file written before it existed. */
  owned?: Owned;
}

interface PatchResult {
  config: Record<string, unknown>;
  changed: boolean;
  /** The new ownership record (bundle-owned.json). */
  owned: Owned;
  /** One line per extension: enabled, or disabled and which variable enables it. */
  notes: string[];
}

export function desiredConfig(
  current: Obj,
  s: Settings,
  platform: PlatformConfig,
  ctx: PatchContext,
): PatchResult {
  const config = structuredClone(current);
  const notes: string[] = [];

  // Gateway: port, bind, and token auth with the token as a reference.
  setPath(config, "gateway.port", s.gateway.port);
  setPath(config, "gateway.bind", s.gateway.bind);
  setPath(config, "gateway.auth.mode", "token");
  if (s.gateway.tokenRef) setPath(config, "gateway.auth.token", s.gateway.tokenRef);

  // The agents' default model, when the env names one.
  const providerPath = `models.providers.${PROVIDER_ID}`;
  if (s.llm) {
    setPath(config, providerPath, {
      baseUrl: s.llm.baseUrl,
      api: "openai-completions",
      apiKey: s.llm.apiKeyRef ?? "unused",
      models: [
        {
          id: s.llm.model,
          name: s.llm.model,
          reasoning: false,
          input: ["text"],
          cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
          contextWindow: 128000,
          maxTokens: 4096,
        },
      ],
    });
    setPath(config, "agents.defaults.model.primary", `${PROVIDER_ID}/${s.llm.model}`);
  } else {
    deletePath(config, providerPath);
    const primary = getPath(config, "agents.defaults.model.primary");
    if (typeof primary === "string" && primary.startsWith(`${PROVIDER_ID}/`))
      deletePath(config, "agents.defaults.model.primary");
  }

  meshProviders(config, s);

  // Extensions: on or off from env; env-mapped keys set, or removed when their variable is absent.
  for (const { id } of BUNDLE_EXTENSIONS) {
    const ext = s.extensions[id];
    const base = `plugins.entries.${id}`;
    setPath(config, `${base}.enabled`, ext.enabled);
    assertManaged(id, ext.config);
    for (const key of MANAGED_CONFIG_KEYS[id]) {
      const v = getPath(ext.config, key);
      if (v === undefined) deletePath(config, `${base}.config.${key}`, 3);
      else setPath(config, `${base}.config.${key}`, v);
    }
    notes.push(
      ext.enabled
        ? `${id}: enabled`
        : `${id}: disabled (${ext.disabledReason ?? "its enabling variable is not set"})`,
    );
  }

  // The host's A2A channel: env owns its keys once A2A_ENABLED is set; unset leaves the file's.
  if (s.a2a) {
    for (const key of A2A_MANAGED_KEYS) {
      const v = s.a2a.channel[key];
      if (v === undefined) deletePath(config, `channels.a2a.${key}`, 2);
      else setPath(config, `channels.a2a.${key}`, v);
    }
    notes.push(
      s.a2a.channel.enabled
        ? "a2a (host channel): enabled"
        : "a2a (host channel): disabled (A2A_ENABLED=false)",
    );
  }

  const owned = applyPlatform(config, s, platform, ctx, ctx.owned);

  return { config, changed: JSON.stringify(config) !== JSON.stringify(current), notes, owned };
}

/**
 * Every key the env settings produce must be one the patch writes: a key missing from
 * MANAGED_CONFIG_KEYS was silently dropped (AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS and the
 * CLAWMATRIX_TLS_* variables were read, validated, and never reached openclaw.json). A
 * programming error, so it fails every start and every test that sets the variable.
 */
export function unmanagedKeys(id: BundleExtensionId, config: Obj, prefix = ""): string[] {
  const managed = MANAGED_CONFIG_KEYS[id];
  const out: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    const key = `${prefix}${k}`;
    if (managed.includes(key)) continue;
    if (isObj(v) && managed.some((m) => m.startsWith(`${key}.`)))
      out.push(...unmanagedKeys(id, v, `${key}.`));
    else out.push(key);
  }
  return out;
}

function assertManaged(id: BundleExtensionId, config: Obj): void {
  const lost = unmanagedKeys(id, config);
  if (lost.length > 0)
    throw new Error(`${id}: settings produce config keys the patch does not write: ${lost.join(", ")}`);
}

const MESH_PROVIDER_URL = /^http:\/\/127\.0\.0\.1:\d+\/(node\/[A-Za-z0-9._-]+\/)?v1$/;

/**
 * One model provider per remote node the mesh proxies models from (`<nodeId>/<model>`), pointing
 * at the local model proxy; `clawmatrix/<model>` for models wanted from any node. Providers the
 * bundle wrote earlier and no longer wants are removed; without a model of its own, the node's
 * default model is the first proxied one.
 */
function meshProviders(config: Obj, s: Settings): void {
  const mesh = s.extensions.clawmatrix;
  const wanted = new Map<string, { baseUrl: string; models: string[] }>();
  const port = Number(mesh.config.proxyPort ?? 19001);
  const proxied = (mesh.enabled ? mesh.config.proxyModels : undefined) as
    | Array<{ id: string; nodeId?: string }>
    | undefined;
  for (const m of proxied ?? []) {
    const provider = m.nodeId ?? "clawmatrix";
    const baseUrl = m.nodeId ? `http://127.0.0.1:${port}/node/${m.nodeId}/v1` : `http://127.0.0.1:${port}/v1`;
    const entry = wanted.get(provider) ?? { baseUrl, models: [] };
    entry.models.push(m.id);
    wanted.set(provider, entry);
  }
  const providers = getPath(config, "models.providers");
  const removed: string[] = [];
  if (isObj(providers)) {
    for (const [id, p] of Object.entries(providers)) {
      if (
        !wanted.has(id) &&
        isObj(p) &&
        typeof p.baseUrl === "string" &&
        MESH_PROVIDER_URL.test(p.baseUrl) &&
        p.apiKey === "${CLAWMATRIX_SECRET}"
      ) {
        deletePath(config, `models.providers.${id}`);
        removed.push(id);
      }
    }
  }
  for (const [id, p] of wanted) {
    setPath(config, `models.providers.${id}`, {
      baseUrl: p.baseUrl,
      api: "openai-completions",
      apiKey: "${CLAWMATRIX_SECRET}",
      models: p.models.map((m) => ({
        id: m,
        name: `${m} via the mesh`,
        reasoning: false,
        input: ["text"],
        cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
        contextWindow: 128000,
        maxTokens: 4096,
      })),
    });
  }
  const primary = getPath(config, "agents.defaults.model.primary");
  const [first] = wanted.entries();
  if (!s.llm && first) setPath(config, "agents.defaults.model.primary", `${first[0]}/${first[1].models[0]}`);
  else if (typeof primary === "string" && removed.includes(primary.split("/")[0] ?? ""))
    deletePath(config, "agents.defaults.model.primary");
}
