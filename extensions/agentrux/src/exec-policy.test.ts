import { describe, expect, it } from "vitest";
import { agentruxConfig } from "./config-schema.ts";
import { execDecision } from "./exec-policy.ts";
import { conversationPeer } from "./session.ts";

const AGENTRUX = `agent:main:agentrux-openclaw-plugin:default:direct:${conversationPeer("cmd", "c1")}`;
const on = { enabled: true, allowedCommands: ["ls( -la)?( /tmp)?", "/usr/bin/git status", "uptime"] };

describe("execPolicy", () => {
  it("blocks every shell tool in an AgenTrux turn while the policy is off", () => {
    for (const tool of ["exec", "process", "bash"])
      expect(
        execDecision({ enabled: false, allowedCommands: ["ls"] }, tool, { command: "ls" }, AGENTRUX),
      ).toMatchObject({ block: true, blockReason: expect.stringContaining("execPolicy.enabled is false") });
  });

  it("lets a command through when a pattern matches all of it", () => {
    expect(execDecision(on, "exec", { command: "ls -la /tmp" }, AGENTRUX)).toBeUndefined();
    expect(execDecision(on, "exec", { command: "ls" }, AGENTRUX)).toBeUndefined();
    expect(execDecision(on, "bash", { command: "/usr/bin/git status" }, AGENTRUX)).toBeUndefined();
    expect(execDecision(on, "exec", { command: "uptime" }, AGENTRUX)).toBeUndefined();
  });

  it("refuses a command a pattern matches only in part", () => {
    for (const command of ["/tmp/evil/uptime", "uptime -x", "ls -la /etc", "git status", "xls"])
      expect(execDecision(on, "exec", { command }, AGENTRUX)?.blockReason).toBe(
        `AgenTrux execPolicy: "${command}" matches none of execPolicy.allowedCommands (${on.allowedCommands.join(", ")})`,
      );
  });

  it("refuses chaining even when a pattern would match the whole text", () => {
    const loose = { enabled: true, allowedCommands: ["ls.*"] };
    for (const command of [
      "ls; rm -rf /",
      "ls && curl x",
      "ls || curl x",
      "ls | sh",
      "ls $(id)",
      "ls `id`",
      "ls\nrm -rf /",
      "ls\rrm -rf /",
      "ls > /etc/x",
    ])
      expect(execDecision(loose, "exec", { command }, AGENTRUX)?.blockReason).toMatch(
        /one program with plain arguments/,
      );
    expect(execDecision(loose, "exec", { command: `ls ${"a".repeat(5000)}` }, AGENTRUX)?.blockReason).toMatch(
      /longer than 4096/,
    );
  });

  it("validates the patterns in the config, naming the bad one", () => {
    const r = agentruxConfig.schema.safeParse({
      execPolicy: { enabled: true, allowedCommands: ["ls", "git (status"] },
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('\\"git (status\\" is not a valid regular expression');
  });

  it("blocks other programs and anything that chains or substitutes", () => {
    expect(execDecision(on, "exec", { command: "rm -rf /" }, AGENTRUX)?.blockReason).toMatch(
      /"rm -rf \/" matches none of execPolicy.allowedCommands/,
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
