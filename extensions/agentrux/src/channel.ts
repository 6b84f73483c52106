import os from "node:os";
import {
  type ConfiguredAccount,
  channelTarget,
  configuredAccount,
  createLogger,
  liveSlot,
  pluginEntryConfig,
  singleAccountChannel,
  untilAborted,
} from "@openclaw-bundle/shared";
import type { ChannelPlugin } from "openclaw/plugin-sdk/channel-core";
import type { AgentruxConfig } from "./config-schema.ts";
import type { AgentruxService, Config } from "./service.ts";
import { ACCOUNT_ID, CHANNEL_ID } from "./session.ts";
import { PLUGIN_ID, resolveAgentrux } from "./status.ts";

/**
 * The AgenTrux channel: one account (`default`) whose settings are the plugin's config (the env
 * contract writes them there). `startAccount` runs an AgentruxService until the gateway aborts
 * it; each request becomes a turn of the configured agent in its conversation's own session.
 * Outbound, the channel's targets are topics: `sendText` publishes an `openclaw.message` event.
 */

/** The running account, for the status method and the tools (register() runs more than once). */
export const liveService = liveSlot<AgentruxService>(PLUGIN_ID);

/** Event type of what the agent or an operator sends to a topic outside a request's answer. */
export const MESSAGE_TYPE = "openclaw.message";

export type ChannelAccount = ConfiguredAccount<AgentruxConfig, Config>;

export function resolveAccount(cfg: unknown): ChannelAccount {
  return configuredAccount(
    ACCOUNT_ID,
    resolveAgentrux(pluginEntryConfig(cfg, PLUGIN_ID)),
    (c) => c as Config,
  );
}

export function createChannelPlugin(): ChannelPlugin<ChannelAccount> {
  return {
    ...singleAccountChannel({
      id: CHANNEL_ID,
      accountId: ACCOUNT_ID,
      label: "AgenTrux",
      blurb: "Commands in and results out through AgenTrux authenticated pub/sub topics.",
      // A request gets one answer event, not one per block.
      blockStreaming: false,
      resolveAccount,
    }),
    outbound: {
      deliveryMode: "gateway",
      textChunkLimit: 100_000,
      sendText: async ({ to, text }) => {
        const client = liveService.get()?.client;
        if (!client) throw new Error("the AgenTrux channel is not connected (no credentials or not started)");
        const topic = channelTarget(CHANNEL_ID, to);
        if (!topic) throw new Error(`an AgenTrux target is a topic id (got ${JSON.stringify(to)})`);
        const eventId = await client.publish(topic, { type: MESSAGE_TYPE, payload: { message: text } });
        return { channel: CHANNEL_ID, messageId: eventId };
      },
    },
    gateway: {
      startAccount: async (ctx) => {
        const config = ctx.account.config;
        if (!config)
          throw new Error(
            `${PLUGIN_ID}: ${ctx.account.resolved.ok ? "not configured" : ctx.account.resolved.status.reason}`,
          );
        await liveService.get()?.stop();
        // Loaded here, not at registration: the host also loads this module to discover what it
        // registers, and that load never starts a service (issue 17, "cheap registration").
        const [{ AgentruxService }, { runAgentTurn }] = await Promise.all([
          import("./service.ts"),
          import("./turn.ts"),
        ]);
        // The account's lines go to the gateway's own log, like every other extension's.
        const logger = createLogger({
          extension: PLUGIN_ID,
          ...(ctx.log ? { sink: ctx.log } : {}),
        });
        const service = new AgentruxService(
          config,
          logger,
          (t) =>
            runAgentTurn(
              ctx.cfg,
              { ...t, agentId: config.agentId, label: `AgenTrux conversation ${t.peer.slice(0, 8)}` },
              logger,
            ),
          os.homedir(),
        );
        liveService.set(service);
        ctx.setStatus({ ...ctx.getStatus(), accountId: ACCOUNT_ID, running: true, connected: false });
        // Connected once it has credentials and reads the command topic: at start, or later.
        service.onRunning = () => ctx.setStatus({ ...ctx.getStatus(), connected: true });
        await service.start();
        // The gateway restarts an account whose start returns: stay until it aborts us.
        await untilAborted(ctx.abortSignal);
        await service.stop();
        if (liveService.get() === service) liveService.set(undefined);
        ctx.setStatus({ ...ctx.getStatus(), running: false, connected: false });
      },
    },
  };
}
