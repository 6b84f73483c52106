import { describe, expect, it } from "vitest";
import { abortable, channelTurnConfig, replyText, untilAborted } from "./channel-kit.ts";

describe("channelTurnConfig", () => {
  const cfg = {
    session: { dmScope: "main", mainKey: "m" },
    bindings: [{ agentId: "ops", match: { channel: "slack" } }],
    agents: { list: [{ id: "main" }] },
  };

  it("gives each sender its own session and routes to the agent ahead of the user's bindings", () => {
    const routed = channelTurnConfig(cfg, "agentrux", "default", "main");
    expect(routed.session).toEqual({ dmScope: "per-account-channel-peer", mainKey: "m" });
    expect(routed.bindings).toEqual([
      { agentId: "main", match: { channel: "agentrux", accountId: "default" } },
      { agentId: "ops", match: { channel: "slack" } },
    ]);
    expect(routed.agents).toBe(cfg.agents);
    expect(cfg.session.dmScope).toBe("main"); // the host's own config is left alone
    expect(cfg.bindings).toHaveLength(1);
  });

  it("leaves bindings as they are without an agent, and derives one object per config", () => {
    const a = channelTurnConfig(cfg, "agent-registry", "default");
    expect(a.bindings).toBe(cfg.bindings);
    expect(channelTurnConfig(cfg, "agent-registry", "default")).toBe(a);
    expect(channelTurnConfig(cfg, "agent-registry", "other")).not.toBe(a);
    expect(channelTurnConfig({ ...cfg }, "agent-registry", "default")).not.toBe(a);
  });
});

describe("abortable", () => {
  it("settles as the work does while the signal stays quiet", async () => {
    const c = new AbortController();
    await expect(abortable(Promise.resolve(7), c.signal)).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error("no")), c.signal)).rejects.toThrow("no");
  });

  it("rejects with the signal's reason at once, whatever the work does later", async () => {
    const c = new AbortController();
    let finish: (v: number) => void = () => {};
    const work = new Promise<number>((r) => {
      finish = r;
    });
    const p = abortable(work, c.signal);
    c.abort(new Error("deadline"));
    await expect(p).rejects.toThrow("deadline");
    finish(1);
    await expect(abortable(work, AbortSignal.abort(new Error("late")))).rejects.toThrow("late");
  });
});

describe("untilAborted and replyText", () => {
  it("resolves on abort, and at once for an aborted signal", async () => {
    const c = new AbortController();
    let done = false;
    const p = untilAborted(c.signal).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    c.abort();
    await p;
    expect(done).toBe(true);
    await untilAborted(AbortSignal.abort());
  });

  it("reads a payload's text, and nothing from anything else", () => {
    expect(replyText({ text: "hi" })).toBe("hi");
    for (const p of [undefined, null, "hi", { text: 3 }, { mediaUrl: "x" }]) expect(replyText(p)).toBe("");
  });
});
