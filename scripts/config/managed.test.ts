import { readFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE_EXTENSIONS } from "@openclaw-bundle/shared";
import { describe, expect, it } from "vitest";
import { desiredConfig, unmanagedKeys } from "./patch.ts";
import { platformConfigSchema } from "./platform.ts";
import { readSettings } from "./settings.ts";

/**
 * Every variable the entrypoint reads reaches openclaw.json. A config key the settings produce but
 * the patch does not own was dropped without a word: AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS never
 * reached the file, so the compose test's 300 s contact wait was the default 30 s (a contact gave
 * up after 60 s on a loaded machine), and the CLAWMATRIX_TLS_* variables did nothing.
 */

const platform = platformConfigSchema.parse(
  JSON.parse(readFileSync(path.join(import.meta.dirname, "../../platform-config.json"), "utf8")),
);
const ctx = { extensionsDir: "/opt/bundle/extensions", stateDir: "/home/node/.openclaw" };

/** Every variable set; TLS from files (the self-signed variant below). */
const FULL: Record<string, string> = {
  HOME: "/home/node",
  HOSTNAME: "box-1",
  OPENCLAW_GATEWAY_TOKEN: "gateway-token-0123456789",
  OPENCLAW_GATEWAY_PORT: "18789",
  OPENCLAW_LLM_BASE_URL: "http://llm:8080/v1",
  OPENCLAW_LLM_API_KEY: "llm-key-0123456789",
  OPENCLAW_LLM_MODEL: "m1",
  CLAWMATRIX_SECRET: "mesh-secret-abcdefghijkl",
  CLAWMATRIX_NODE_ID: "node-a",
  CLAWMATRIX_LISTEN: "true",
  CLAWMATRIX_LISTEN_HOST: "0.0.0.0",
  CLAWMATRIX_LISTEN_PORT: "19000",
  CLAWMATRIX_PEERS: "node-b=wss://node-b:19000",
  CLAWMATRIX_TLS_CERT_FILE: "/certs/node.pem",
  CLAWMATRIX_TLS_KEY_FILE: "/certs/node.key",
  CLAWMATRIX_TLS_CA_FILE: "/certs/ca.pem",
  CLAWMATRIX_TRUSTED_KEYS: `node-b=${"A".repeat(43)}`,
  CLAWMATRIX_TAGS: "relay,review",
  CLAWMATRIX_AGENTS: '[{"id":"main","tags":["review"]}]',
  CLAWMATRIX_MODELS: '[{"id":"gpt-4o","provider":"openai"}]',
  CLAWMATRIX_PROXY_MODELS: '[{"id":"m2","nodeId":"node-b"}]',
  CLAWMATRIX_PROXY_PORT: "19001",
  CLAWMATRIX_TOOL_PROXY: "allow=read;deny=exec",
  CLAWMATRIX_A2A: "true",
  CLAWMATRIX_A2A_DEFAULT_AGENT: "main",
  A2A_ENABLED: "true",
  A2A_PEERS: "hermes=https://hermes.example.com/a2a/v1",
  A2A_PEER_HERMES_TOKEN: "hermes-token-0123456789",
  A2A_ADVERTISED_URL: "https://node-a.example.com/a2a/v1",
  A2A_RATE_LIMIT_PER_MINUTE: "60",
  AGENTRUX_COMMAND_TOPIC_ID: "cmd",
  AGENTRUX_RESULT_TOPIC_ID: "res",
  AGENTRUX_BASE_URL: "http://broker:8080",
  AGENTRUX_AGENT_ID: "main",
  AGENTRUX_SUBAGENT_TIMEOUT_MS: "300000",
  AGENTRUX_API_GENERATION: "live",
  AGENT_REGISTRY_URL: "http://registry:8001",
  AGENT_REGISTRY_API_KEY: "registry-key-0123456789abcdef",
  AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS: "90",
  AGENT_CAPABILITIES: "review",
  INSTALLATION_ID: "inst-1",
  PILOT_REGISTRY: "registry:8001",
  PILOT_PORT: "4000",
  PILOT_PUBLIC_IP: "10.0.0.5",
  PILOT_BIN_DIR: "/opt/pilot",
  AUTH_MANAGER_BASE_URL: "http://broker:8080",
  AUTH_MANAGER_INTERNAL_API_TOKEN: "broker-internal-token-0123456789",
  AUTH_MANAGER_MACHINE_ID: "machine-1",
  AUTH_MANAGER_AGENT_ID: "main",
  AUTH_MANAGER_LEASE_ID: "lease-1",
  AUTH_MANAGER_AUTO_RENEW: "true",
  AUTH_MANAGER_AUTO_ROTATE: "false",
  AUTH_MANAGER_RELEASE_LEASE_ON_SHUTDOWN: "true",
  AUTH_MANAGER_ALLOW_HTTP: "true",
  AUTH_MANAGER_TELEMETRY_INTERVAL_MS: "60000",
  AUTH_MANAGER_ROTATION_POLICY: "recommended_or_required",
  OPENCLAW_GATEWAY_BIND: "lan",
};

function written(env: Record<string, string>) {
  const r = readSettings(env);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return { settings: r.settings, config: desiredConfig({}, r.settings, platform, ctx).config };
}

describe("env to openclaw.json", () => {
  it("sets every variable the settings script reads in the test's full env", () => {
    const sources = ["settings.ts", "a2a.ts", "statefulset.ts"].map((f) =>
      readFileSync(path.join(import.meta.dirname, f), "utf8"),
    );
    const read = new Set(
      sources.flatMap((s) => [...s.matchAll(/\br\.\w+\("([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1])),
    );
    // Read only in a StatefulSet (its own test), or the variant below.
    const elsewhere = new Set([
      "CLAWMATRIX_STATEFULSET_RELAYS",
      "CLAWMATRIX_STATEFULSET_SERVICE",
      "CLAWMATRIX_STATEFULSET_NAMESPACE",
      "CLAWMATRIX_CLUSTER_DOMAIN",
      "CLAWMATRIX_TLS_SELF_SIGNED",
      "PILOT_SOCKET",
      "AGENTRUX_ACTIVATION_CODE",
      "A2A_EXPOSE_AGENTS",
      "A2A_REPLY_TIMEOUT_MS",
    ]);
    const missing = [...read].filter((n) => n && !(n in FULL) && !elsewhere.has(n));
    expect(missing).toEqual([]);
    expect(read.size).toBeGreaterThan(40);
  });

  it("writes every config key the settings produce, for every extension", () => {
    for (const env of [
      FULL,
      {
        ...FULL,
        CLAWMATRIX_TLS_CERT_FILE: "",
        CLAWMATRIX_TLS_KEY_FILE: "",
        CLAWMATRIX_TLS_SELF_SIGNED: "true",
      },
    ]) {
      const { settings, config } = written(
        Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")),
      );
      for (const { id } of BUNDLE_EXTENSIONS) {
        expect(settings.extensions[id].enabled, id).toBe(true);
        expect(unmanagedKeys(id, settings.extensions[id].config), id).toEqual([]);
        const file = (config.plugins as { entries: Record<string, { config: unknown }> }).entries[id]?.config;
        expect(file, id).toMatchObject(JSON.parse(JSON.stringify(settings.extensions[id].config)));
      }
    }
  });

  it("writes the waits and the TLS files that were read and dropped before", () => {
    const entries = (
      written(FULL).config.plugins as { entries: Record<string, { config: Record<string, unknown> }> }
    ).entries;
    expect(entries["agent-registry"]?.config.contactTimeoutSeconds).toBe(90);
    expect(entries["agentrux-openclaw-plugin"]?.config.subagentTimeoutMs).toBe(300_000);
    expect(entries.clawmatrix?.config.tls).toEqual({
      certFile: "/certs/node.pem",
      keyFile: "/certs/node.key",
      caFile: "/certs/ca.pem",
    });
  });

  it("refuses settings with a key the patch would drop, naming it", () => {
    expect(
      unmanagedKeys("agent-registry", { hostname: "a", pilot: { port: 1, colour: "red" }, extra: 1 }),
    ).toEqual(["pilot.colour", "extra"]);
  });
});
