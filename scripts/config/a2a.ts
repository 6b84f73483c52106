import type { EnvReader } from "./env-fields.ts";

/**
 * The host's bundled A2A channel (`channels.a2a`, docs/channels/a2a.md), configured from env like
 * everything else. Peers are named in one variable; each peer's tokens come from variables of
 * their own, and openclaw.json gets `${VAR}` references, never a token.
 *
 *   A2A_ENABLED=true
 *   A2A_PEERS=hermes,iris=https://iris.example.com/a2a/v1
 *   A2A_PEER_HERMES_TOKEN=...            # what hermes must send us (required per peer)
 *   A2A_PEER_IRIS_TOKEN=...
 *   A2A_PEER_IRIS_OUTBOUND_TOKEN=...     # what we send iris (optional; only with a URL)
 */

/** The keys of `channels.a2a` that env owns: set from env, removed when their variable is unset. */
export const A2A_MANAGED_KEYS = [
  "enabled",
  "advertisedUrl",
  "replyTimeoutMs",
  "rateLimitPerMinute",
  "exposeAgents",
  "peers",
] as const;

/** The host's own peer-name rule (its config schema), so a name it would refuse fails at boot. */
const PEER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PEER_NAME_EXPECTED = "1-64 characters of [a-z0-9._-], starting with a lowercase letter or digit";
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** At most this many peers: each is a token the gateway compares on every request. */
export const MAX_A2A_PEERS = 64;

export interface A2aSettings {
  /** What env says about `channels.a2a`; the managed keys not in here are removed. */
  channel: Record<string, unknown>;
}

/** The variable holding a peer's token: `hermes.eu-1` -> `A2A_PEER_HERMES_EU_1_TOKEN`. */
export function peerTokenVar(name: string, outbound = false): string {
  return `A2A_PEER_${name.toUpperCase().replace(/[.-]/g, "_")}_${outbound ? "OUTBOUND_" : ""}TOKEN`;
}

/**
 * Reads the A2A variables; undefined when `A2A_ENABLED` is unset (the bundle then leaves
 * `channels.a2a` as the file has it). Problems go to the reader, one line each.
 */
export function readA2a(r: EnvReader): A2aSettings | undefined {
  const enabled = r.bool("A2A_ENABLED");
  if (enabled === undefined) {
    for (const name of ["A2A_PEERS", "A2A_ADVERTISED_URL", "A2A_EXPOSE_AGENTS"])
      if (r.has(name)) r.problem(name, "set while A2A_ENABLED is not", "A2A_ENABLED=true to turn A2A on");
    return undefined;
  }
  if (!enabled) return { channel: { enabled: false } };
  const channel: Record<string, unknown> = {
    enabled: true,
    advertisedUrl: r.url("A2A_ADVERTISED_URL"),
    replyTimeoutMs: r.int("A2A_REPLY_TIMEOUT_MS", 5_000, 600_000),
    rateLimitPerMinute: r.int("A2A_RATE_LIMIT_PER_MINUTE", 0, 100_000),
    exposeAgents: exposeAgents(r),
    peers: peers(r),
  };
  return { channel };
}

function exposeAgents(r: EnvReader): string[] | undefined {
  const ids = r.list("A2A_EXPOSE_AGENTS");
  const bad = ids?.find((id) => !AGENT_ID.test(id));
  if (bad !== undefined)
    return r.problem(
      "A2A_EXPOSE_AGENTS",
      `agent id ${JSON.stringify(bad)} is not valid`,
      "agent ids, comma-separated",
    );
  return ids;
}

function peers(r: EnvReader): Record<string, Record<string, string>> {
  const raw = r.raw("A2A_PEERS");
  if (raw === undefined) {
    r.problem("A2A_PEERS", "not set", "at least one peer: name or name=https://its/a2a/v1, comma-separated");
    return {};
  }
  const out: Record<string, Record<string, string>> = {};
  const byVar = new Map<string, string>();
  const entries = raw.split(",").map((e) => e.trim());
  if (entries.length > MAX_A2A_PEERS)
    r.problem("A2A_PEERS", `${entries.length} peers`, `at most ${MAX_A2A_PEERS}`);
  for (const entry of entries.slice(0, MAX_A2A_PEERS)) {
    const eq = entry.indexOf("=");
    const name = eq < 0 ? entry : entry.slice(0, eq).trim();
    const url = eq < 0 ? undefined : entry.slice(eq + 1).trim();
    if (!PEER_NAME.test(name)) {
      r.problem(
        "A2A_PEERS",
        `peer name ${JSON.stringify(name.slice(0, 64))} is not valid`,
        PEER_NAME_EXPECTED,
      );
      continue;
    }
    const tokenVar = peerTokenVar(name);
    const clash = byVar.get(tokenVar);
    if (clash !== undefined) {
      r.problem(
        "A2A_PEERS",
        `peers ${clash} and ${name} would share ${tokenVar}`,
        "names that differ in more than . and -",
      );
      continue;
    }
    byVar.set(tokenVar, name);
    const peer: Record<string, string> = {};
    const token = r.secret(tokenVar, 16, `the token peer ${name} sends; make it unique per peer`);
    if (token) peer.token = token;
    else if (!r.has(tokenVar))
      r.problem(tokenVar, "not set", `the bearer token peer ${name} must send (at least 16 characters)`);
    if (url !== undefined) {
      const u = checkUrl(r, name, url);
      if (u) peer.url = u;
      const outVar = peerTokenVar(name, true);
      // The remote side issues this one, so its format is theirs: a lower floor, as for LLM keys.
      const outbound = r.secret(outVar, 8, `the token peer ${name} expects from us`);
      if (outbound) peer.outboundToken = outbound;
    } else if (r.has(peerTokenVar(name, true))) {
      r.problem(
        peerTokenVar(name, true),
        `set, but peer ${name} has no URL in A2A_PEERS`,
        `${name}=https://... in A2A_PEERS`,
      );
    }
    out[name] = peer;
  }
  return out;
}

function checkUrl(r: EnvReader, name: string, url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return r.problem("A2A_PEERS", `the URL of peer ${name} is not a URL`, "name=https://host/a2a/v1");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    return r.problem(
      "A2A_PEERS",
      `the URL of peer ${name} uses ${u.protocol}//`,
      "an http:// or https:// URL",
    );
  if (u.username || u.password)
    return r.problem(
      "A2A_PEERS",
      `the URL of peer ${name} carries credentials`,
      "a URL without user:password@; the token goes in its own variable",
    );
  return u.href;
}

const AGENT_TARGET = /^(tags:)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The mesh's own A2A endpoint (`CLAWMATRIX_A2A=true`): every agent of the mesh behind this
 * gateway, for the same peers and tokens as the host's channel, so it needs `A2A_ENABLED=true`.
 * Its advertised origin and rate limit are the channel's (`A2A_ADVERTISED_URL`,
 * `A2A_RATE_LIMIT_PER_MINUTE`). Undefined when the variable is unset.
 */
export function readMeshA2a(
  r: EnvReader,
  channel: A2aSettings | undefined,
): Record<string, unknown> | undefined {
  const on = r.bool("CLAWMATRIX_A2A");
  const defaultAgent = r.string("CLAWMATRIX_A2A_DEFAULT_AGENT", {
    pattern: AGENT_TARGET,
    expected: "an agent id, tags:<tag> or a node id",
  });
  if (on === undefined) {
    if (defaultAgent !== undefined)
      r.problem("CLAWMATRIX_A2A_DEFAULT_AGENT", "set while CLAWMATRIX_A2A is not", "CLAWMATRIX_A2A=true");
    return undefined;
  }
  if (!on) return { enabled: false };
  if (channel?.channel.enabled !== true)
    r.problem(
      "CLAWMATRIX_A2A",
      "true while A2A_ENABLED is not",
      "A2A_ENABLED=true with A2A_PEERS: the mesh endpoint admits the same peers with the same tokens",
    );
  return {
    enabled: true,
    defaultAgent,
    advertisedUrl: channel?.channel.advertisedUrl,
    rateLimitPerMinute: channel?.channel.rateLimitPerMinute,
  };
}
