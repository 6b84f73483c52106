import type { ChannelPlugin, OpenClawConfig } from "openclaw/plugin-sdk/channel-core";
import type { ResolvedConfig } from "./plugin-kit.ts";

/**
 * Plumbing the bundle's two channels (agentrux, agent-registry) share around the host's channel
 * helpers. It imports SDK types only, never SDK code: the extensions call the SDK, this shapes
 * what they pass, checked against the host's own channel types.
 */

/** The host config, as far as these helpers read and write it. */
type HostConfig = Record<string, unknown> & {
  session?: Record<string, unknown>;
  bindings?: unknown[];
};

const routedConfigs = new WeakMap<object, Map<string, unknown>>();

/**
 * The config a channel turn is routed with: every sender (a remote agent, an outside client's
 * conversation) gets a session of its own whatever `session.dmScope` says for people, and, when
 * `agentId` is given, the turn goes to that agent whatever the user's own bindings say.
 * The same object for the same config, so the host's per-config route caches keep working.
 */
export function channelTurnConfig<C extends object>(
  cfg: C,
  channel: string,
  accountId: string,
  agentId?: string,
): C {
  let derived = routedConfigs.get(cfg);
  if (!derived) {
    derived = new Map();
    routedConfigs.set(cfg, derived);
  }
  const key = `${channel}\n${accountId}\n${agentId ?? ""}`;
  const hit = derived.get(key);
  if (hit) return hit as C;
  const c = cfg as HostConfig;
  const bindings = agentId
    ? [{ agentId, match: { channel, accountId } }, ...(Array.isArray(c.bindings) ? c.bindings : [])]
    : c.bindings;
  const routed = {
    ...c,
    session: { ...(c.session ?? {}), dmScope: "per-account-channel-peer" },
    ...(bindings ? { bindings } : {}),
  } as C;
  derived.set(key, routed);
  return routed;
}

/** The text of a reply payload handed to a channel's `deliver`, or "" when it carries none. */
export function replyText(payload: unknown): string {
  return payload && typeof payload === "object" && typeof (payload as { text?: unknown }).text === "string"
    ? (payload as { text: string }).text
    : "";
}

/** Resolves when the signal aborts (at once if it already has): a channel account's lifetime. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * `work`, or a rejection with the signal's reason as soon as it aborts, whichever comes first.
 * For work that may not notice the abort at once: the caller moves on; the work unwinds alone.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** What the bundle's channels say of their one account. */
export interface ChannelAccountBase {
  accountId: string;
  enabled: boolean;
  configured: boolean;
}

/** A channel's one account: its config as resolved, and the settings it runs with when sound. */
export interface ConfiguredAccount<C, S> extends ChannelAccountBase {
  resolved: ResolvedConfig<C>;
  config?: S;
}

/** The account from a resolved config: disabled, unconfigured (with why), or its settings. */
export function configuredAccount<C, S>(
  accountId: string,
  resolved: ResolvedConfig<C>,
  settings: (c: C) => S,
): ConfiguredAccount<C, S> {
  if (!resolved.ok)
    return { accountId, enabled: resolved.status.state !== "disabled", configured: false, resolved };
  return { accountId, enabled: true, configured: true, resolved, config: settings(resolved.config) };
}

/** `plugins.entries.<id>.config` of a host config: a channel account's settings. */
export function pluginEntryConfig(cfg: unknown, id: string): unknown {
  return (cfg as { plugins?: { entries?: Record<string, { config?: unknown }> } } | undefined)?.plugins
    ?.entries?.[id]?.config;
}

/** A target as the channel's own id: `<channel>:x` and `x` name the same peer or topic. */
export function channelTarget(channel: string, raw: unknown): string {
  const t = String(raw ?? "").trim();
  return t.startsWith(`${channel}:`) ? t.slice(channel.length + 1) : t;
}

/** The parts of a channel plugin `singleAccountChannel` fills in. */
type SingleAccountChannel<A> = Pick<
  ChannelPlugin<A>,
  "id" | "meta" | "capabilities" | "reload" | "config" | "messaging"
>;

/**
 * The static half of a channel plugin with one account (`accountId`) configured by the plugin's
 * own config, direct chats only and text only. The caller adds `outbound` and `gateway`.
 */
export function singleAccountChannel<A extends ChannelAccountBase>(o: {
  id: string;
  accountId: string;
  label: string;
  blurb: string;
  /** Whether the channel shows an answer's blocks as they come, or only the whole answer. */
  blockStreaming: boolean;
  resolveAccount: (cfg: OpenClawConfig) => A;
}): SingleAccountChannel<A> {
  return {
    id: o.id,
    meta: {
      id: o.id,
      label: o.label,
      selectionLabel: o.label,
      docsPath: `/channels/${o.id}`,
      blurb: o.blurb,
    },
    capabilities: {
      chatTypes: ["direct"],
      media: false,
      reactions: false,
      threads: false,
      nativeCommands: false,
      blockStreaming: o.blockStreaming,
    },
    reload: { configPrefixes: [`plugins.entries.${o.id}`] },
    config: {
      listAccountIds: () => [o.accountId],
      defaultAccountId: () => o.accountId,
      resolveAccount: (cfg) => o.resolveAccount(cfg),
      isEnabled: (a) => a.enabled,
      isConfigured: (a) => a.configured,
      describeAccount: (a) => ({ accountId: a.accountId, enabled: a.enabled, configured: a.configured }),
    },
    messaging: {
      normalizeTarget: (raw) => channelTarget(o.id, raw) || undefined,
      inferTargetChatType: () => "direct",
    },
  };
}
