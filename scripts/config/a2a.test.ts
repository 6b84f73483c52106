// biome-ignore-all lint/suspicious/noExplicitAny: the tests read deep paths of plain JSON
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_A2A_PEERS, peerTokenVar } from "./a2a.ts";
import { desiredConfig } from "./patch.ts";
import { type PlatformConfig, platformConfigSchema } from "./platform.ts";
import { readSettings } from "./settings.ts";

const BASE = { OPENCLAW_GATEWAY_TOKEN: "gateway-token-0123456789", HOSTNAME: "box-1", HOME: "/home/node" };
const HERMES = "hermes-token-0123456789abcdef";
const IRIS = "iris-token-0123456789abcdefgh";
const IRIS_OUT = "issued-by-iris-42";
const platform: PlatformConfig = platformConfigSchema.parse(
  JSON.parse(readFileSync(path.join(import.meta.dirname, "../../platform-config.json"), "utf8")),
);
const ctx = { extensionsDir: "/opt/bundle/extensions", stateDir: "/home/node/.openclaw" };

function read(env: Record<string, string>) {
  return readSettings({ ...BASE, ...env });
}

function configFor(env: Record<string, string>, current: Record<string, unknown> = {}, owned?: any) {
  const r = read(env);
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return desiredConfig(current, r.settings, platform, { ...ctx, owned });
}

const ON = {
  A2A_ENABLED: "true",
  A2A_PEERS: "hermes, iris=https://iris.example.com/a2a/v1",
  A2A_PEER_HERMES_TOKEN: HERMES,
  A2A_PEER_IRIS_TOKEN: IRIS,
  A2A_PEER_IRIS_OUTBOUND_TOKEN: IRIS_OUT,
  A2A_ADVERTISED_URL: "https://gw.example.com",
  A2A_EXPOSE_AGENTS: "main,reviewer",
  A2A_RATE_LIMIT_PER_MINUTE: "60",
};

describe("A2A from env", () => {
  it("writes channels.a2a with token references, allows and enables the host's plugin", () => {
    const r = configFor(ON);
    const c = r.config as any;
    expect(c.channels.a2a).toEqual({
      enabled: true,
      advertisedUrl: "https://gw.example.com",
      rateLimitPerMinute: 60,
      exposeAgents: ["main", "reviewer"],
      peers: {
        hermes: { token: "${A2A_PEER_HERMES_TOKEN}" },
        iris: {
          token: "${A2A_PEER_IRIS_TOKEN}",
          url: "https://iris.example.com/a2a/v1",
          outboundToken: "${A2A_PEER_IRIS_OUTBOUND_TOKEN}",
        },
      },
    });
    expect(c.plugins.allow).toContain("a2a");
    expect(c.plugins.entries.a2a).toEqual({ enabled: true });
    const text = JSON.stringify(c);
    for (const secret of [HERMES, IRIS, IRIS_OUT]) expect(text).not.toContain(secret);
    expect(r.notes).toContain("a2a (host channel): enabled");
    const s = read(ON);
    expect(s.ok && s.settings.secretVars).toEqual(
      expect.arrayContaining([
        "A2A_PEER_HERMES_TOKEN",
        "A2A_PEER_IRIS_TOKEN",
        "A2A_PEER_IRIS_OUTBOUND_TOKEN",
      ]),
    );
  });

  it("leaves a hand-written channels.a2a alone while A2A_ENABLED is unset", () => {
    const mine = { channels: { a2a: { enabled: true, peers: { me: { token: "${MINE}" } } } } };
    const c = configFor({}, mine).config as any;
    expect(c.channels).toEqual(mine.channels);
    expect(c.plugins.allow).not.toContain("a2a");
  });

  it("turns it off and undoes what it wrote when A2A_ENABLED becomes false", () => {
    const first = configFor(ON);
    const second = configFor({ A2A_ENABLED: "false" }, first.config, first.owned);
    const c = second.config as any;
    expect(c.channels.a2a).toEqual({ enabled: false });
    expect(c.plugins.allow).not.toContain("a2a");
    expect(c.plugins.entries.a2a).toBeUndefined();
    expect(second.notes).toContain("a2a (host channel): disabled (A2A_ENABLED=false)");
  });

  it("gives each bad value one line naming the variable and what is expected, never a token", () => {
    const bad = (env: Record<string, string>) => {
      const r = read(env);
      return r.ok ? [] : r.problems;
    };
    expect(bad({ A2A_ENABLED: "true" })).toEqual([
      "A2A_PEERS: not set; expected at least one peer: name or name=https://its/a2a/v1, comma-separated",
    ]);
    expect(bad({ A2A_ENABLED: "true", A2A_PEERS: "Hermes" })).toEqual([
      'A2A_PEERS: peer name "Hermes" is not valid; expected 1-64 characters of [a-z0-9._-], starting with a lowercase letter or digit',
    ]);
    expect(bad({ A2A_ENABLED: "true", A2A_PEERS: "hermes" })).toEqual([
      "A2A_PEER_HERMES_TOKEN: not set; expected the bearer token peer hermes must send (at least 16 characters)",
    ]);
    const short = bad({ A2A_ENABLED: "true", A2A_PEERS: "hermes", A2A_PEER_HERMES_TOKEN: "short-secret" });
    expect(short).toEqual([
      "A2A_PEER_HERMES_TOKEN: the secret is 12 characters long; expected at least 16 characters (the token peer hermes sends; make it unique per peer)",
    ]);
    expect(short.join()).not.toContain("short-secret");
    expect(bad({ ...ON, A2A_PEERS: "iris=ftp://iris.example.com" })).toEqual([
      "A2A_PEERS: the URL of peer iris uses ftp://; expected an http:// or https:// URL",
    ]);
    expect(bad({ ...ON, A2A_PEERS: "a.b,a-b", A2A_PEER_A_B_TOKEN: HERMES })).toEqual([
      "A2A_PEERS: peers a.b and a-b would share A2A_PEER_A_B_TOKEN; expected names that differ in more than . and -",
    ]);
    expect(bad({ ...ON, A2A_PEERS: "hermes", A2A_PEER_HERMES_OUTBOUND_TOKEN: IRIS_OUT })).toEqual([
      "A2A_PEER_HERMES_OUTBOUND_TOKEN: set, but peer hermes has no URL in A2A_PEERS; expected hermes=https://... in A2A_PEERS",
    ]);
    expect(bad({ ...ON, A2A_REPLY_TIMEOUT_MS: "100" })[0]).toMatch(/^A2A_REPLY_TIMEOUT_MS: .*5000/);
    expect(bad({ A2A_PEERS: "hermes" })).toEqual([
      "A2A_PEERS: set while A2A_ENABLED is not; expected A2A_ENABLED=true to turn A2A on",
    ]);
    const many = Array.from({ length: MAX_A2A_PEERS + 1 }, (_, i) => `p${i}`);
    const env: Record<string, string> = { A2A_ENABLED: "true", A2A_PEERS: many.join(",") };
    for (const p of many) env[peerTokenVar(p)] = HERMES;
    expect(bad(env)).toEqual([`A2A_PEERS: ${MAX_A2A_PEERS + 1} peers; expected at most ${MAX_A2A_PEERS}`]);
  });

  it("names a peer's token variables from its name", () => {
    expect(peerTokenVar("hermes.eu-1")).toBe("A2A_PEER_HERMES_EU_1_TOKEN");
    expect(peerTokenVar("hermes", true)).toBe("A2A_PEER_HERMES_OUTBOUND_TOKEN");
  });

  it("turns the mesh's own A2A endpoint on with the channel's peers, origin and rate limit", () => {
    const c = configFor({ ...ON, CLAWMATRIX_SECRET: "mesh-secret-abcdefghijkl", CLAWMATRIX_A2A: "true" })
      .config as any;
    expect(c.plugins.entries.clawmatrix.config.a2a).toEqual({
      enabled: true,
      advertisedUrl: "https://gw.example.com",
      rateLimitPerMinute: 60,
    });
    const off = configFor({ CLAWMATRIX_SECRET: "mesh-secret-abcdefghijkl" }, c).config as any;
    expect(off.plugins.entries.clawmatrix.config.a2a).toBeUndefined();
    const bad = read({ CLAWMATRIX_SECRET: "mesh-secret-abcdefghijkl", CLAWMATRIX_A2A: "true" });
    expect(bad.ok ? [] : bad.problems).toEqual([
      "CLAWMATRIX_A2A: true while A2A_ENABLED is not; expected A2A_ENABLED=true with A2A_PEERS: the mesh endpoint admits the same peers with the same tokens",
    ]);
    const agent = read({
      ...ON,
      CLAWMATRIX_SECRET: "mesh-secret-abcdefghijkl",
      CLAWMATRIX_A2A: "true",
      CLAWMATRIX_A2A_DEFAULT_AGENT: "no spaces",
    });
    expect(agent.ok ? [] : agent.problems).toEqual([
      'CLAWMATRIX_A2A_DEFAULT_AGENT: "no spaces" is not valid; expected an agent id, tags:<tag> or a node id',
    ]);
  });
});
