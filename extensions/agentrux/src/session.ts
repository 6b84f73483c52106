import { createHash } from "node:crypto";
import { MANIFEST } from "./manifest.ts";

/**
 * Which session an AgenTrux conversation runs in. The channel's peer id is a hash of the command
 * topic and the client's `conversation_key`: the outside client's string never becomes part of a
 * session key, and the same key on two command topics names two conversations.
 */

/** The channel has the plugin's id, as the host expects of a plugin that owns one channel. */
export const CHANNEL_ID = MANIFEST.id;
export const ACCOUNT_ID = "default";

const PEER_LENGTH = 24; // hex digits: 96 bits, no collisions among any plausible number of conversations

export function conversationPeer(commandTopic: string, conversationKey: string): string {
  return createHash("sha256")
    .update(JSON.stringify([commandTopic, conversationKey]))
    .digest("hex")
    .slice(0, PEER_LENGTH);
}

/**
 * The peer id of an AgenTrux session key (`agent:<agent>:agentrux-openclaw-plugin:default:direct:<peer>`,
 * the shape the host gives per-account-channel-peer sessions), or undefined for any other session.
 */
export function peerOfSession(sessionKey: string | undefined): string | undefined {
  const m = new RegExp(`(?:^|:)${CHANNEL_ID}:${ACCOUNT_ID}:direct:([0-9a-f]{${PEER_LENGTH}})$`, "i").exec(
    sessionKey ?? "",
  );
  return m?.[1]?.toLowerCase();
}
