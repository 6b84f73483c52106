import { channelTurnConfig, errorMessage, type Logger, replyText } from "@openclaw-bundle/shared";
import type { OpenClawConfig } from "openclaw/plugin-sdk/channel-core";
import { agentruxError } from "./client.ts";
import type { TurnRequest } from "./dispatch.ts";
import { ACCOUNT_ID, CHANNEL_ID } from "./session.ts";

/**
 * One AgenTrux request as a turn of the host's channel pipeline: routed to the configured agent
 * in the conversation's own session, recorded like any channel message, the reply collected from
 * the pipeline's deliveries. The same steps as the SDK's `dispatchInboundDirectDm`, taken one by
 * one because that helper offers no way to abort the run, and `subagentTimeoutMs` must.
 */

/** The request as dispatch.ts hands it over, plus what the account adds. */
interface TurnInput extends TurnRequest {
  agentId: string;
  /** How the conversation is named in the session list; never trusted text. */
  label: string;
}

/** Runs the turn; resolves with the reply text, rejects with AGENTRUX_ERR_TURN_FAILED when the agent failed. */
export async function runAgentTurn(cfg: OpenClawConfig, t: TurnInput, logger: Logger): Promise<string> {
  // Clients' conversations are isolated, and routed to the configured agent only.
  const routed = channelTurnConfig(cfg, CHANNEL_ID, ACCOUNT_ID, t.agentId);
  // Loaded at the first turn, not at registration: the host's inbound pipeline costs ~1.5 s of
  // CPU to import on a fresh gateway (a bare one never loads it), paid before /readyz otherwise.
  const [
    { buildChannelInboundEventContext, dispatchChannelInboundTurn, resolveChannelInboundRouteEnvelope },
    { createChannelReplyPipeline },
  ] = await Promise.all([
    import("openclaw/plugin-sdk/channel-inbound"),
    import("openclaw/plugin-sdk/channel-reply-pipeline"),
  ]);
  const peer = { kind: "direct" as const, id: t.peer };
  const { route, buildEnvelope } = resolveChannelInboundRouteEnvelope({
    cfg: routed,
    channel: CHANNEL_ID,
    accountId: ACCOUNT_ID,
    peer,
  });
  const address = `${CHANNEL_ID}:${t.peer}`;
  const ctxPayload = await buildChannelInboundEventContext({
    channel: CHANNEL_ID,
    accountId: ACCOUNT_ID,
    messageId: t.messageId,
    messageIdFull: t.messageId,
    from: address,
    sender: { id: t.peer, name: t.label },
    conversation: { kind: "direct", id: t.peer, routePeer: peer, label: t.label },
    route: {
      agentId: route.agentId,
      accountId: route.accountId,
      routeSessionKey: route.sessionKey,
      dispatchSessionKey: route.sessionKey,
    },
    reply: { to: address, originatingTo: address },
    message: {
      body: buildEnvelope({ channel: "AgenTrux", from: t.label, body: t.rawBody }),
      bodyForAgent: t.bodyForAgent,
      rawBody: t.rawBody,
      commandBody: t.rawBody,
    },
    // Outside clients never run slash commands; their text is only ever a request to the agent.
    access: { commands: { authorized: false } },
    channelIngress: "unsupported",
    extra: { NativeDirectUserId: t.peer, OriginatingChannel: CHANNEL_ID },
  });
  const { onModelSelected, ...replyPipeline } = createChannelReplyPipeline({
    cfg: routed,
    agentId: route.agentId,
    channel: CHANNEL_ID,
    accountId: ACCOUNT_ID,
  });
  const parts: string[] = [];
  let failure: string | undefined;
  const result = await dispatchChannelInboundTurn({
    cfg: routed,
    channel: CHANNEL_ID,
    accountId: ACCOUNT_ID,
    route: { agentId: route.agentId, sessionKey: route.sessionKey },
    ctxPayload,
    record: {
      onRecordError: (err: unknown) =>
        logger.warn(`AgenTrux session record for ${t.label} failed: ${errorMessage(err)}`),
    },
    delivery: {
      // Tool summaries are the agent's working notes; the client gets the answer blocks.
      deliver: async (payload: { isError?: boolean }, info: { kind: string }) => {
        if (info.kind === "tool") return;
        const text = replyText(payload);
        if (payload.isError) failure = text || "the agent failed the turn";
        else if (text.trim()) parts.push(text);
      },
      onError: (err: unknown) => {
        failure = errorMessage(err);
      },
    },
    replyPipeline,
    replyOptions: { onModelSelected, abortSignal: t.signal },
  });
  if (failure !== undefined) throw agentruxError("TURN_FAILED", failure);
  // A turn the host declined would otherwise read as an empty answer.
  if (!result.dispatched)
    throw agentruxError(
      "TURN_FAILED",
      `the gateway did not run the turn (${result.admission.kind}${result.admission.reason ? `: ${result.admission.reason}` : ""})`,
    );
  return parts.join("\n\n");
}
