import path from "node:path";
import { peerOfSession } from "./session.ts";

/**
 * `execPolicy` (EXTERNAL-APIS.md section 1; parsed but never enforced by the public plugin): in a
 * turn started by an AgenTrux request, the shell tools run only when the policy is enabled and the
 * command is one plain invocation of an allowed program. Other turns are not this plugin's to
 * police. Enforced in the host's `before_tool_call` hook, so it holds whatever the agent tries.
 */

interface ExecPolicy {
  enabled: boolean;
  allowedCommands: string[];
}

/** Tools that run shell commands, or drive processes that do. */
const SHELL_TOOLS = new Set(["exec", "process", "bash", "shell"]);
/** Anything that could chain, substitute or redirect beyond the one named program. */
const SHELL_META = /[;&|`$<>\n\\(){}]/;

export function execDecision(
  policy: ExecPolicy,
  toolName: string,
  params: Record<string, unknown>,
  sessionKey: string | undefined,
): { block: true; blockReason: string } | undefined {
  if (!SHELL_TOOLS.has(toolName) || peerOfSession(sessionKey) === undefined) return undefined;
  const deny = (why: string) => ({
    block: true as const,
    blockReason: `AgenTrux execPolicy: ${why}`,
  });
  if (!policy.enabled)
    return deny(`${toolName} is off for requests from AgenTrux (execPolicy.enabled is false)`);
  if (toolName !== "exec" && toolName !== "bash")
    return deny(`${toolName} is not allowed for requests from AgenTrux; only exec of an allowed command`);
  const command = typeof params.command === "string" ? params.command.trim() : "";
  if (!command) return deny("no command given");
  if (SHELL_META.test(command))
    return deny("the command may only be one program with plain arguments (no ; & | $ ` < > or brackets)");
  const program = path.basename(command.split(/\s+/)[0] ?? "");
  if (!policy.allowedCommands.includes(program))
    return deny(
      `${program} is not in execPolicy.allowedCommands (${policy.allowedCommands.join(", ") || "none"})`,
    );
  return undefined;
}
