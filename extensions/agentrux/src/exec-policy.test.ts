import { describe, expect, it } from "vitest";
import { execDecision } from "./exec-policy.ts";
import { conversationPeer } from "./session.ts";

const AGENTRUX = `agent:main:agentrux-openclaw-plugin:default:direct:${conversationPeer("cmd", "c1")}`;
const on = { enabled: true, allowedCommands: ["ls", "git"] };

describe("execPolicy", () => {
  it("blocks every shell tool in an AgenTrux turn while the policy is off", () => {
    for (const tool of ["exec", "process", "bash"])
      expect(
        execDecision({ enabled: false, allowedCommands: ["ls"] }, tool, { command: "ls" }, AGENTRUX),
      ).toMatchObject({ block: true, blockReason: expect.stringContaining("execPolicy.enabled is false") });
  });

  it("lets an allowed program with plain arguments through, by its base name", () => {
    expect(execDecision(on, "exec", { command: "ls -la /tmp" }, AGENTRUX)).toBeUndefined();
    expect(execDecision(on, "exec", { command: "/usr/bin/git status" }, AGENTRUX)).toBeUndefined();
  });

  it("blocks other programs and anything that chains or substitutes", () => {
    expect(execDecision(on, "exec", { command: "rm -rf /" }, AGENTRUX)?.blockReason).toBe(
      "AgenTrux execPolicy: rm is not in execPolicy.allowedCommands (ls, git)",
    );
    for (const command of ["ls; rm -rf /", "ls && curl x", "ls | sh", "ls $(id)", "ls `id`", "ls > /etc/x"])
      expect(execDecision(on, "exec", { command }, AGENTRUX)?.blockReason).toMatch(
        /one program with plain arguments/,
      );
    expect(execDecision(on, "process", { action: "write" }, AGENTRUX)?.block).toBe(true);
  });

  it("leaves other tools and turns that did not come from AgenTrux alone", () => {
    expect(execDecision(on, "read", { path: "x" }, AGENTRUX)).toBeUndefined();
    expect(
      execDecision(
        { enabled: false, allowedCommands: [] },
        "exec",
        { command: "rm -rf /" },
        "agent:main:main",
      ),
    ).toBeUndefined();
    // Another channel's direct session, even with a peer id of the same shape.
    expect(
      execDecision(
        { enabled: false, allowedCommands: [] },
        "exec",
        { command: "ls" },
        AGENTRUX.replace("agentrux-openclaw-plugin", "agent-registry"),
      ),
    ).toBeUndefined();
  });
});
