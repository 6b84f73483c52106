// biome-ignore-all lint/suspicious/noExplicitAny: the tests read deep paths of plain JSON
import { readFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE_EXTENSIONS } from "@openclaw-bundle/shared";
import { describe, expect, it } from "vitest";
import { clawmatrixConfig } from "../../extensions/clawmatrix/src/config-schema.ts";
import { desiredConfig } from "./patch.ts";
import { type PlatformConfig, platformConfigSchema } from "./platform.ts";
import { readSettings, type Settings } from "./settings.ts";

const TOKEN = "gateway-token-0123456789";
const SECRET = "mesh-secret-abcdefghijkl";
const BASE = { OPENCLAW_GATEWAY_TOKEN: TOKEN, HOSTNAME: "box-1", HOME: "/home/node" };
const platform: PlatformConfig = platformConfigSchema.parse(
  JSON.parse(readFileSync(path.join(import.meta.dirname, "../../platform-config.json"), "utf8")),
);
const ctx = { extensionsDir: "/opt/bundle/extensions", stateDir: "/home/node/.openclaw" };

function settings(env: Record<string, string>): Settings {
  const r = readSettings({ ...BASE, ...env });
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.settings;
}

function problems(env: Record<string, string>): string[] {
  const r = readSettings({ ...BASE, ...env });
  return r.ok ? [] : r.problems;
}

describe("readSettings", () => {
  it("gives each class of bad env one line naming the variable and what is expected", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { OPENCLAW_GATEWAY_PORT: "eighty" },
        /^OPENCLAW_GATEWAY_PORT: "eighty" is not valid; expected an integer port 1-65535$/,
      ],
      [{ OPENCLAW_GATEWAY_PORT: "70000" }, /^OPENCLAW_GATEWAY_PORT: .*1-65535/],
      [{ OPENCLAW_GATEWAY_BIND: "everywhere" }, /^OPENCLAW_GATEWAY_BIND: .*one of lan, loopback/],
      [
        { AUTH_MANAGER_BASE_URL: "not a url", AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN },
        /^AUTH_MANAGER_BASE_URL: "not a url" is not a URL/,
      ],
      [
        { CLAWMATRIX_SECRET: "short" },
        /^CLAWMATRIX_SECRET: the secret is 5 characters long; expected at least 16/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_MODELS: "[{id:" },
        /^CLAWMATRIX_MODELS: not valid JSON .*expected a JSON array/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_AGENTS: '{"id":"x"}' },
        /^CLAWMATRIX_AGENTS: a JSON object; expected a JSON array/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_PROXY_MODELS: '[{"nodeId":"b"}]' },
        /^CLAWMATRIX_PROXY_MODELS: item 0\.id: /,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_PEERS: "a=http://x:1" },
        /^CLAWMATRIX_PEERS: entry "a=http:\/\/x:1"/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_PEERS: "a=wss://x:1#sha256=abc" },
        /^CLAWMATRIX_PEERS: entry "a=wss:\/\/x:1#sha256=abc" has a bad fingerprint; expected sha256=<64 hex digits>/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_PEERS: "a=wss://x:1" },
        /^CLAWMATRIX_PEERS: entry "a=wss:\/\/x:1" is wss:\/\/ with no pinned fingerprint and CLAWMATRIX_TLS_CA_FILE is not set; expected #sha256=/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_PEERS: `a=ws://x:1#sha256=${"a".repeat(64)}` },
        /^CLAWMATRIX_PEERS: entry "a=ws:\/\/x:1#sha256=a+\.\.\." pins a fingerprint on ws:\/\/; expected wss:\/\//,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_TLS_CERT_FILE: "/certs/mesh.pem" },
        /^CLAWMATRIX_TLS_KEY_FILE: not set while its pair is; expected CLAWMATRIX_TLS_CERT_FILE and CLAWMATRIX_TLS_KEY_FILE together/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_TLS_CA_FILE: "relative/ca.pem" },
        /^CLAWMATRIX_TLS_CA_FILE: "relative\/ca.pem" is not valid; expected an absolute path/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_TRUSTED_KEYS: "node-a=short" },
        /^CLAWMATRIX_TRUSTED_KEYS: entry "node-a=short" is not valid; expected id=<43-character base64url Ed25519 public key>/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_LISTEN_HOST: "0.0.0.0 evil" },
        /^CLAWMATRIX_LISTEN_HOST: "0\.0\.0\.0 evil" is not valid; expected an IP address to bind/,
      ],
      [
        { CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_LISTEN: "maybe" },
        /^CLAWMATRIX_LISTEN: "maybe" is not a boolean; expected true or false$/,
      ],
      [{ CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_TOOL_PROXY: "allow=rm -rf" }, /^CLAWMATRIX_TOOL_PROXY: part /],
      [{ AGENTRUX_COMMAND_TOPIC_ID: "cmd" }, /^AGENTRUX_RESULT_TOPIC_ID: not set; expected set together/],
      [{ AGENTRUX_ACTIVATION_CODE: "ac_short" }, /^AGENTRUX_ACTIVATION_CODE: the code has the wrong shape/],
      [{ AGENT_REGISTRY_URL: "http://r", PILOT_PUBLIC_IP: "300.1.1.1" }, /^PILOT_PUBLIC_IP: .*IPv4/],
      [{ AUTH_MANAGER_BASE_URL: "https://b" }, /^AUTH_MANAGER_INTERNAL_API_TOKEN: not set/],
      [
        { AGENT_REGISTRY_URL: "http://r", AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS: "0" },
        /^AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS: "0" .*1-600/,
      ],
      [
        {
          AGENTRUX_COMMAND_TOPIC_ID: "cmd",
          AGENTRUX_RESULT_TOPIC_ID: "res",
          AGENTRUX_SUBAGENT_TIMEOUT_MS: "2m",
        },
        /^AGENTRUX_SUBAGENT_TIMEOUT_MS: "2m" .*1000-3600000/,
      ],
      [
        {
          AUTH_MANAGER_BASE_URL: "https://b",
          AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN,
          AUTH_MANAGER_ROTATION_POLICY: "often",
        },
        /^AUTH_MANAGER_ROTATION_POLICY: "often" is not allowed; expected one of replacement_required_only, recommended_or_required$/,
      ],
    ];
    for (const [env, line] of cases) {
      const p = problems(env);
      expect(p, JSON.stringify(env)).toHaveLength(1);
      expect(p[0]).toMatch(line);
    }
    expect(readSettings({}).ok).toBe(false);
  });

  it("refuses a plain-http broker off localhost unless AUTH_MANAGER_ALLOW_HTTP=true", () => {
    const lease = { AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN };
    expect(problems({ ...lease, AUTH_MANAGER_BASE_URL: "http://remote-host:8080" })).toEqual([
      'AUTH_MANAGER_BASE_URL: "http://remote-host:8080" is plain http off localhost; expected an https:// URL, or AUTH_MANAGER_ALLOW_HTTP=true for a broker on a private network',
    ]);
    // A DNS name that merely starts with 127 is remote, as in the extension's own rule.
    expect(problems({ ...lease, AUTH_MANAGER_BASE_URL: "http://127.example.com" })).toHaveLength(1);
    for (const url of ["https://remote-host", "http://localhost:9", "http://127.0.0.2:9", "http://[::1]:9"])
      expect(problems({ ...lease, AUTH_MANAGER_BASE_URL: url }), url).toEqual([]);
    const allowed = settings({
      ...lease,
      AUTH_MANAGER_BASE_URL: "http://remote-host:8080",
      AUTH_MANAGER_ALLOW_HTTP: "true",
    });
    expect(allowed.extensions["auth-manager-lease-telemetry"].config.allowHttp).toBe(true);
  });

  it("keeps a value's newline inside its own problem line, so no line can be forged", () => {
    const p = problems({ CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_AGENTS: "x\nFAKE_VAR: spoofed\r\u2028y" });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^CLAWMATRIX_AGENTS: not valid JSON /);
    expect(p[0]).not.toMatch(/[\n\r\u2028]/);
    const q = problems({ CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_PEERS: "a\nFAKE_VAR: x=ws://b" });
    expect(q[0]).toMatch(/^CLAWMATRIX_PEERS: entry "a\\nFAKE_VAR: x=ws:\/\/b" is not valid/);
  });

  it("takes an 8-character provider key for OPENCLAW_LLM_API_KEY and says why it is not 16", () => {
    const llm = { OPENCLAW_LLM_BASE_URL: "http://127.0.0.1:9/v1" };
    expect(problems({ ...llm, OPENCLAW_LLM_API_KEY: "12345678" })).toEqual([]);
    expect(problems({ ...llm, OPENCLAW_LLM_API_KEY: "1234567" })).toEqual([
      "OPENCLAW_LLM_API_KEY: the secret is 7 characters long; expected at least 8 characters (the provider's key; unset for a server without auth)",
    ]);
  });

  it("checks PILOT_REGISTRY's port so the beacon (port + 1) is a port too, reading it as decimal", () => {
    const reg = { AGENT_REGISTRY_URL: "http://r" };
    for (const bad of ["host:99999", "host:65535", "host:0", "host", "host:-1"])
      expect(problems({ ...reg, PILOT_REGISTRY: bad }), bad).toEqual([
        expect.stringMatching(
          /^PILOT_REGISTRY: .*; expected host:port with a port 1-65534 \(the beacon is port \+ 1\)$/,
        ),
      ]);
    // Refused even while the registry (and so Pilot) is off: it is still a wrong value.
    expect(problems({ PILOT_REGISTRY: "host:65535" })).toHaveLength(1);
    const p = settings({ ...reg, PILOT_REGISTRY: "pilot.example:08", INSTALLATION_ID: "inst-1" }).pilot;
    expect(p).toMatchObject({ registry: "pilot.example:8", beacon: "pilot.example:9", hostname: "inst-1" });
    expect(settings({ ...reg, PILOT_REGISTRY: "h:65534" }).pilot?.beacon).toBe("h:65535");
    // Pilot takes lowercase letters, digits and "-" only: a wider name gets one it takes.
    expect(
      settings({ ...reg, PILOT_REGISTRY: "h:1", INSTALLATION_ID: "Box_1.Example" }).pilot?.hostname,
    ).toBe("box-1-example");
    expect(problems({ ...reg, INSTALLATION_ID: "a\nb" })).toEqual([
      expect.stringMatching(/^INSTALLATION_ID: "a\\nb" is not valid; expected 1-256 characters, no control/),
    ]);
  });

  it("refuses an unset or relative HOME instead of guessing where the state lives", () => {
    const r = readSettings({
      OPENCLAW_GATEWAY_TOKEN: TOKEN,
      AGENT_REGISTRY_URL: "http://r",
      PILOT_REGISTRY: "h:1",
    });
    expect(r.ok ? [] : r.problems).toEqual([
      "HOME: not set; expected the absolute home directory holding .openclaw, .pilot and .agentrux",
    ]);
    expect(problems({ HOME: "home/node" })).toEqual([
      'HOME: "home/node" is not absolute; expected an absolute path such as /home/node',
    ]);
  });

  it("collects every problem at once and never shows a secret's value", () => {
    const leaked = "leaky secret with spaces";
    const p = problems({
      OPENCLAW_GATEWAY_TOKEN: "tiny",
      CLAWMATRIX_SECRET: leaked,
      OPENCLAW_GATEWAY_PORT: "x",
    });
    expect(p).toHaveLength(3);
    expect(p.join("\n")).not.toContain("tiny");
    expect(p.join("\n")).not.toContain(leaked);
  });

  it("writes secrets as ${VAR} references and defaults ids to the hostname", () => {
    const s = settings({
      CLAWMATRIX_SECRET: SECRET,
      CLAWMATRIX_PEERS: `node-a=ws://a:19000, node-b=wss://b:443/mesh#sha256=${"AB:".repeat(31)}AB`,
      CLAWMATRIX_TRUSTED_KEYS: `node-a=${"A".repeat(43)}`,
      CLAWMATRIX_LISTEN_HOST: "127.0.0.1",
      CLAWMATRIX_TOOL_PROXY: "allow=read,exec;deny=write",
      AUTH_MANAGER_BASE_URL: "https://broker.example/",
      AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN,
    });
    expect(s.gateway.tokenRef).toBe("${OPENCLAW_GATEWAY_TOKEN}");
    expect(clawmatrixConfig.safeParse(s.extensions.clawmatrix.config, "env").ok).toBe(true);
    expect(s.extensions.clawmatrix.config).toMatchObject({
      nodeId: "box-1",
      secret: "${CLAWMATRIX_SECRET}",
      peers: [
        { nodeId: "node-a", url: "ws://a:19000" },
        { nodeId: "node-b", url: "wss://b:443/mesh", fingerprint: "ab".repeat(32) },
      ],
      trustedKeys: [{ nodeId: "node-a", key: "A".repeat(43) }],
      listenHost: "127.0.0.1",
      toolProxy: { enabled: true, allow: ["read", "exec"], deny: ["write"] },
    });
    expect(s.extensions["auth-manager-lease-telemetry"].config).toMatchObject({
      baseUrl: "https://broker.example",
      internalApiToken: "${AUTH_MANAGER_INTERNAL_API_TOKEN}",
      machineId: "box-1",
    });
    expect(JSON.stringify(s)).not.toContain(SECRET);
    expect(JSON.stringify(s)).not.toContain(TOKEN);
  });

  it("writes the mesh TLS files and lets a CA stand in for pins (PROTOCOL §2a)", () => {
    const s = settings({
      CLAWMATRIX_SECRET: SECRET,
      CLAWMATRIX_TLS_CERT_FILE: "/certs/mesh.pem",
      CLAWMATRIX_TLS_KEY_FILE: "/certs/mesh.key",
      CLAWMATRIX_TLS_CA_FILE: "/certs/ca.pem",
      CLAWMATRIX_PEERS: "node-b=wss://b:443",
    });
    const config = s.extensions.clawmatrix.config;
    expect(config.tls).toEqual({
      certFile: "/certs/mesh.pem",
      keyFile: "/certs/mesh.key",
      caFile: "/certs/ca.pem",
    });
    expect(clawmatrixConfig.safeParse(config, "env").ok).toBe(true);
    expect(
      settings({ CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_TLS_SELF_SIGNED: "true" }).extensions.clawmatrix.config
        .tls,
    ).toEqual({
      selfSigned: true,
    });
    // The plugin's own schema refuses the same unverifiable peer, for configs written by hand.
    const r = clawmatrixConfig.safeParse({ secret: SECRET, peers: [{ nodeId: "b", url: "wss://b:1" }] }, "x");
    expect(r.ok ? "" : r.message).toMatch(
      /peers\[0\]\.fingerprint.*wss:\/\/b:1 is wss:\/\/ with no pinned fingerprint and no tls\.caFile/,
    );
  });

  it("defaults every id to the kept identity, not the hostname, and says where each came from", () => {
    const identity = { name: "kept-name", source: "bundle-identity.json" };
    const env = {
      CLAWMATRIX_SECRET: SECRET,
      AGENT_REGISTRY_URL: "http://r",
      PILOT_REGISTRY: "h:9000",
      AUTH_MANAGER_BASE_URL: "https://b",
      AUTH_MANAGER_INTERNAL_API_TOKEN: TOKEN,
      AUTH_MANAGER_MACHINE_ID: "machine-7",
    };
    const r = readSettings({ ...BASE, ...env }, identity);
    if (!r.ok) throw new Error(r.problems.join("\n"));
    const s = r.settings;
    expect(s.extensions.clawmatrix.config.nodeId).toBe("kept-name");
    expect(s.extensions["agent-registry"].config).toMatchObject({
      hostname: "kept-name",
      installationId: "kept-name",
    });
    expect(s.pilot?.hostname).toBe("kept-name");
    expect(s.ids).toEqual([
      { what: "mesh node id", value: "kept-name", from: "the identity" },
      { what: "registry hostname", value: "kept-name", from: "the identity" },
      { what: "installation id and Pilot hostname", value: "kept-name", from: "the identity" },
      { what: "lease machine id", value: "machine-7", from: "AUTH_MANAGER_MACHINE_ID" },
    ]);
  });

  it("sets the answer waits from the env, and leaves them to the extensions' defaults when unset", () => {
    const on = {
      AGENT_REGISTRY_URL: "http://r",
      AGENTRUX_COMMAND_TOPIC_ID: "cmd",
      AGENTRUX_RESULT_TOPIC_ID: "res",
    };
    const s = settings({
      ...on,
      AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS: "90",
      AGENTRUX_SUBAGENT_TIMEOUT_MS: "300000",
    });
    expect(s.extensions["agent-registry"].config.contactTimeoutSeconds).toBe(90);
    expect(s.extensions["agentrux-openclaw-plugin"].config.subagentTimeoutMs).toBe(300_000);
    const d = settings(on);
    expect(d.extensions["agent-registry"].config.contactTimeoutSeconds).toBeUndefined();
    expect(d.extensions["agentrux-openclaw-plugin"].config.subagentTimeoutMs).toBeUndefined();
  });
});

describe("desiredConfig", () => {
  const user = {
    gateway: { port: 1, customKey: "mine" },
    plugins: {
      allow: ["my-plugin"],
      entries: {
        clawmatrix: { config: { handoffTimeout: 5000, peers: [{ nodeId: "old", url: "ws://old:1" }] } },
        "my-plugin": { enabled: true },
      },
    },
    agents: { list: [{ id: "main" }] },
  };

  it("sets the managed keys, keeps every key the user set, and adds to lists without dropping theirs", () => {
    const r = desiredConfig(user, settings({ CLAWMATRIX_SECRET: SECRET }), platform, ctx);
    const c = r.config as Record<string, any>;
    expect(r.changed).toBe(true);
    expect(c.gateway).toMatchObject({ port: 18789, bind: "lan", customKey: "mine", auth: { mode: "token" } });
    expect(c.agents).toEqual(user.agents);
    expect(c.plugins.entries["my-plugin"]).toEqual({ enabled: true });
    // platform-config.json loads and allows every extension of the bundle.
    expect(c.plugins.allow).toEqual(["my-plugin", ...BUNDLE_EXTENSIONS.map((e) => e.id)]);
    expect(c.plugins.load.paths).toEqual(BUNDLE_EXTENSIONS.map((e) => `/opt/bundle/extensions/${e.folder}`));
    expect(c.logging.file).toBe("/home/node/.openclaw/logs/gateway.log");
    // The user's handoffTimeout stays; peers belong to CLAWMATRIX_PEERS, which is unset.
    expect(c.plugins.entries.clawmatrix.config).toEqual({
      handoffTimeout: 5000,
      nodeId: "box-1",
      secret: "${CLAWMATRIX_SECRET}",
      listen: false,
    });
    expect(r.notes).toContain("agent-registry: disabled (AGENT_REGISTRY_URL is not set)");
    expect(user.gateway.port).toBe(1); // input not mutated
  });

  it("is a fixed point: applying it again changes nothing", () => {
    const s = settings({ CLAWMATRIX_SECRET: SECRET, CLAWMATRIX_MODELS: '[{"id":"m","provider":"p"}]' });
    const once = desiredConfig(user, s, platform, ctx);
    const twice = desiredConfig(once.config, s, platform, ctx);
    expect(twice.changed).toBe(false);
    expect(once.config).toMatchObject({
      gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } },
    });
  });

  it("turns an extension off and drops its env-owned keys when the enabling variable goes away", () => {
    const on = desiredConfig({}, settings({ CLAWMATRIX_SECRET: SECRET }), platform, ctx).config;
    const off = desiredConfig(on, settings({}), platform, ctx).config as Record<string, any>;
    expect(off.plugins.entries.clawmatrix).toEqual({ enabled: false });
    expect(JSON.stringify(off)).not.toContain("CLAWMATRIX_SECRET");
  });

  it("undoes a platform patch when its condition no longer holds, but not a value the user set", () => {
    const none = { version: 1 as const, set: {}, added: {} };
    const mesh = settings({ CLAWMATRIX_SECRET: SECRET });
    const on = desiredConfig({}, mesh, platform, { ...ctx, owned: none });
    expect(on.owned.set["gateway.http.endpoints.chatCompletions.enabled"]).toBe(true);
    const off = desiredConfig(on.config, settings({}), platform, { ...ctx, owned: on.owned });
    expect((off.config as any).gateway.http).toBeUndefined();
    expect(off.owned.set).not.toHaveProperty("gateway.http.endpoints.chatCompletions.enabled");
    expect((off.config as any).plugins.entries["auth-manager-lease-telemetry"]).toEqual({ enabled: false });

    // The user had turned the endpoint on before the mesh: the bundle did not set it, so it stays.
    const mine = { gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } } };
    const on2 = desiredConfig(mine, mesh, platform, { ...ctx, owned: none });
    expect(on2.owned.set).not.toHaveProperty("gateway.http.endpoints.chatCompletions.enabled");
    const off2 = desiredConfig(on2.config, settings({}), platform, { ...ctx, owned: on2.owned });
    expect((off2.config as any).gateway.http).toEqual(mine.gateway.http);
    // A value the user changed after the bundle set it is theirs too.
    const changed = structuredClone(on.config) as any;
    changed.gateway.http.endpoints.chatCompletions.enabled = false;
    const off3 = desiredConfig(changed, settings({}), platform, { ...ctx, owned: on.owned });
    expect((off3.config as any).gateway.http.endpoints.chatCompletions.enabled).toBe(false);
    // A file from before the record: a value equal to the patch's counts as the bundle's.
    const legacy = desiredConfig(on.config, settings({}), platform, ctx);
    expect((legacy.config as any).gateway.http).toBeUndefined();
  });

  it("drops the old extension paths when the bundle directory moves, keeping the user's own", () => {
    const s = settings({});
    const at = (dir: string) => ({ ...ctx, extensionsDir: dir });
    const first = desiredConfig(
      { plugins: { load: { paths: ["/my/plugin"] } } },
      s,
      platform,
      at("/a/extensions"),
    );
    const moved = desiredConfig(first.config, s, platform, { ...at("/b/extensions"), owned: first.owned });
    const expected = ["/my/plugin", ...BUNDLE_EXTENSIONS.map((e) => `/b/extensions/${e.folder}`)];
    expect((moved.config as any).plugins.load.paths).toEqual(expected);
    expect(
      desiredConfig(moved.config, s, platform, { ...at("/b/extensions"), owned: moved.owned }).changed,
    ).toBe(false);
    // Without a record (a file from an earlier version), the bundle's folders are recognised by name.
    const legacy = desiredConfig(first.config, s, platform, at("/b/extensions"));
    expect((legacy.config as any).plugins.load.paths).toEqual(expected);
  });

  it("points the agents' default model at OPENCLAW_LLM_BASE_URL, and takes it back when unset", () => {
    const s = settings({ OPENCLAW_LLM_BASE_URL: "http://127.0.0.1:9/v1", OPENCLAW_LLM_MODEL: "mock-model" });
    const on = desiredConfig({}, s, platform, ctx).config as Record<string, any>;
    expect(on.agents.defaults.model.primary).toBe("bundle-llm/mock-model");
    expect(on.models.providers["bundle-llm"].baseUrl).toBe("http://127.0.0.1:9/v1");
    const off = desiredConfig(on, settings({}), platform, ctx).config as Record<string, any>;
    expect(off.models.providers).toBeUndefined();
    expect(off.agents).toBeUndefined();
  });

  it("registers a model provider per remote node for CLAWMATRIX_PROXY_MODELS and defaults the agents to it", () => {
    const s = settings({
      CLAWMATRIX_SECRET: SECRET,
      CLAWMATRIX_PROXY_PORT: "19021",
      CLAWMATRIX_PROXY_MODELS: '[{"id":"mock-model","nodeId":"node-b"},{"id":"gpt"}]',
    });
    const on = desiredConfig({}, s, platform, ctx).config as Record<string, any>;
    expect(on.models.providers["node-b"]).toMatchObject({
      baseUrl: "http://127.0.0.1:19021/node/node-b/v1",
      apiKey: "${CLAWMATRIX_SECRET}",
      models: [{ id: "mock-model" }],
    });
    expect(on.models.providers.clawmatrix.baseUrl).toBe("http://127.0.0.1:19021/v1");
    expect(on.agents.defaults.model.primary).toBe("node-b/mock-model");
    expect(on.gateway.http.endpoints.chatCompletions.enabled).toBe(true);
    const off = desiredConfig(on, settings({ CLAWMATRIX_SECRET: SECRET }), platform, ctx).config as Record<
      string,
      any
    >;
    expect(off.models.providers).toBeUndefined();
    expect(off.agents).toBeUndefined();
  });
});
