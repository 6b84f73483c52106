import os from "node:os";
import path from "node:path";
import {
  type ConfiguredAccount,
  channelTarget,
  channelTurnConfig,
  configuredAccount,
  createLogger,
  derefEnv,
  errorMessage,
  type Logger,
  liveSlot,
  pluginEntryConfig,
  replyText,
  singleAccountChannel,
  untilAborted,
} from "@openclaw-bundle/shared";
import type { ChannelPlugin, OpenClawConfig } from "openclaw/plugin-sdk/channel-core";
import type { AgentRegistryAccount, ResolvedAccount } from "./account.ts";
import type { AgentRegistryConfig } from "./config-schema.ts";
import type { Peer } from "./peers.ts";
import { PLUGIN_ID, resolveAgentRegistry } from "./status.ts";
import type { Inbound, TransportKind } from "./transports.ts";
import { wrapInbound } from "./wire.ts";

/**
 * The channel: one account (`default`) whose settings are the plugin's config (the env contract
 * writes them there). `startAccount` runs an AgentRegistryAccount until the gateway aborts it;
 * inbound messages become turns in the sender's own session, answers go back the way they came.
 */

export const CHANNEL_ID = PLUGIN_ID;
export const ACCOUNT_ID = "default";
/** The running account, for the gateway methods and the tool (register() runs more than once). */
export const liveAccount = liveSlot<AgentRegistryAccount>(PLUGIN_ID);

export type ChannelAccount = ConfiguredAccount<AgentRegistryConfig, ResolvedAccount>;

export function resolveAccount(
  cfg: OpenClawConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ChannelAccount {
  return configuredAccount(ACCOUNT_ID, resolveAgentRegistry(pluginEntryConfig(cfg, PLUGIN_ID)), (c) => {
    const hostname = c.hostname as string;
    return {
      ...c,
      registryUrl: c.registryUrl as string,
      hostname,
      installationId: c.installationId ?? hostname,
      apiKey: derefEnv(c.registryApiKey, env),
    };
  });
}

export function createChannelPlugin(): ChannelPlugin<ChannelAccount> {
  const turn = async (
    logger: Logger,
    cfg: OpenClawConfig,
    me: ResolvedAccount,
    from: Peer,
    transport: TransportKind,
    id: string,
    text: string,
    reply: ((text: string) => Promise<void>) | undefined,
  ) => {
    let failure: unknown;
    // Loaded at the first turn, not at registration: the host's inbound pipeline costs ~1.5 s of
    // CPU to import on a fresh gateway (a bare one never loads it), paid before /readyz otherwise.
    const { dispatchInboundDirectDm } = await import("openclaw/plugin-sdk/channel-inbound");
    await dispatchInboundDirectDm({
      channelIngress: "unsupported",
      // Each remote agent gets a session of its own; its words never join the operator's main session.
      cfg: channelTurnConfig(cfg, CHANNEL_ID, ACCOUNT_ID),
      channel: CHANNEL_ID,
      channelLabel: "Agent Registry",
      accountId: ACCOUNT_ID,
      peer: { kind: "direct", id: from.hostname },
      senderId: from.hostname,
      senderAddress: `${CHANNEL_ID}:${from.hostname}`,
      recipientAddress: `${CHANNEL_ID}:${me.hostname}`,
      conversationLabel: `${from.hostname}'s agent`,
      rawBody: text,
      bodyForAgent: wrapInbound(
        text,
        `${from.hostname} over ${transport}${from.known ? "" : ", not in the registry"}`,
      ),
      messageId: id,
      commandAuthorized: false,
      // Only peers that passed the trust handshake can reach this inbox at all.
      inboundAccessAuthorized: true,
      deliver: async (payload) => {
        const t = replyText(payload);
        if (!reply || !t.trim()) return;
        // A failed answer must not redo the turn: it is logged, and the turn counts as handled.
        await reply(t).catch((err) =>
          logger.warn(`answer to ${from.hostname} not sent: ${errorMessage(err)}`),
        );
      },
      onRecordError: (err) => logger.warn(`session record for ${from.hostname} failed: ${errorMessage(err)}`),
      onDispatchError: (err) => {
        failure = err;
      },
    });
    if (failure) throw failure;
  };

  return {
    ...singleAccountChannel({
      id: CHANNEL_ID,
      accountId: ACCOUNT_ID,
      label: "Agent Registry",
      blurb: "Agent-to-agent messages through an Agent Registry, over Pilot P2P or the registry's relay.",
      blockStreaming: true,
      resolveAccount: (cfg) => resolveAccount(cfg),
    }),
    outbound: {
      deliveryMode: "gateway",
      textChunkLimit: 32_000,
      sendText: async ({ to, text }) => {
        const account = liveAccount.get();
        if (!account) throw new Error("the agent-registry channel is not running");
        const hostname = channelTarget(CHANNEL_ID, to);
        const r = await account.sendText(hostname, text);
        return { channel: CHANNEL_ID, messageId: r.messageId };
      },
    },
    gateway: {
      startAccount: async (ctx) => {
        const me = ctx.account.config;
        if (!me)
          throw new Error(
            `${PLUGIN_ID}: ${ctx.account.resolved.ok ? "not configured" : ctx.account.resolved.status.reason}`,
          );
        await liveAccount.get()?.stop();
        // Loaded here, not at registration: the host also loads this module to discover what it
        // registers, and that load never starts a service (issue 17, "cheap registration").
        const [{ AgentRegistryAccount, ANSWER_POLL_MS }, { processWaiters }] = await Promise.all([
          import("./account.ts"),
          import("./answer-waiters.ts"),
        ]);
        // The account's lines go to the gateway's own log, like every other extension's.
        const logger = createLogger({ extension: PLUGIN_ID, ...(ctx.log ? { sink: ctx.log } : {}) });
        const home = os.homedir();
        const account = new AgentRegistryAccount({
          config: me,
          logger,
          home,
          stateDir: process.env.OPENCLAW_STATE_DIR ?? path.join(home, ".openclaw"),
          waiters: processWaiters(ANSWER_POLL_MS),
          dispatch: (m: Inbound, reply) =>
            turn(logger, ctx.cfg, me, m.from, m.transport, m.message.id, m.message.text, reply),
          notify: (from, transport, text) =>
            turn(logger, ctx.cfg, me, from, transport, `notice-${Date.now()}`, text, undefined),
        });
        liveAccount.set(account);
        await account.start();
        ctx.setStatus({ ...ctx.getStatus(), accountId: ACCOUNT_ID, running: true, connected: true });
        // The gateway restarts an account whose start returns: stay until it aborts us.
        await untilAborted(ctx.abortSignal);
        await account.stop();
        if (liveAccount.get() === account) liveAccount.set(undefined);
        ctx.setStatus({ ...ctx.getStatus(), running: false, connected: false });
      },
    },
  };
}
