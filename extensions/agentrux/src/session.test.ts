import { describe, expect, it } from "vitest";
import { conversationPeer, peerOfSession } from "./session.ts";

describe("conversation sessions", () => {
  it("names a conversation by a hash scoped to its command topic", () => {
    const p = conversationPeer("cmd", "c1");
    expect(p).toMatch(/^[0-9a-f]{24}$/);
    expect(conversationPeer("cmd", "c1")).toBe(p);
    expect(conversationPeer("other-cmd", "c1")).not.toBe(p);
    // The separator cannot be forged by moving text between topic and key.
    expect(conversationPeer("cmd\nc", "1")).not.toBe(conversationPeer("cmd", "c\n1"));
  });

  it("finds the peer in the host's session key, and only in this channel's direct sessions", () => {
    const p = conversationPeer("cmd", "c1");
    expect(peerOfSession(`agent:main:agentrux-openclaw-plugin:default:direct:${p}`)).toBe(p);
    expect(peerOfSession(`agent:main:agentrux-openclaw-plugin:default:direct:${p.toUpperCase()}`)).toBe(p);
    for (const key of [
      undefined,
      "agent:main:main",
      `agent:main:agent-registry:default:direct:${p}`,
      `agent:main:agentrux-openclaw-plugin:default:direct:${p}x`,
      "agent:main:openai-user:agentrux:c1",
    ])
      expect(peerOfSession(key)).toBeUndefined();
  });
});
