import { compileAllowed } from "./command-patterns.ts";
import { peerOfSession } from "./session.ts";

/**
 * `execPolicy` (EXTERNAL-APIS.md section 1; parsed but never enforced by the public plugin): in a
 * turn started by an AgenTrux request, the shell tools run only when the policy is enabled and the
 * whole command matches one of `allowedCommands`, which are regex patterns as seed 000 documents
 * (`ls( -la)?`, `git (status|log)( .*)?`): anchored at both ends, so `/tmp/evil/uptime` does not
 * pass for `uptime`. Whatever a pattern allows, a command that could chain, substitute or redirect
 * (`;`, `&&`, `||`, `|`, `$(...)`, backticks, newlines) is refused first, so no pattern can let a
 * second command through. Other turns are not this plugin's to police. Enforced in the host's
 * `before_tool_call` hook, so it holds whatever the agent tries.
 */

interface ExecPolicy {
  enabled: boolean;
  allowedCommands: string[];
}

/** Tools that run shell commands, or drive processes that do. */
const SHELL_TOOLS = new Set(["exec", "process", "bash", "shell"]);
/** Anything that could chain, substitute or redirect beyond the one named program. */
const SHELL_META = /[;&|`$<>\r\n\\(){}]/;
/** Longer commands are refused: bounds the work of operator patterns on agent-chosen input. */
const MAX_COMMAND_CHARS = 4096;

const compiled = new WeakMap<readonly string[], RegExp[]>();
function allowed(patterns: readonly string[]): RegExp[] {
  const known = compiled.get(patterns);
  if (known) return known;
  const fresh = compileAllowed(patterns);
  compiled.set(patterns, fresh);
  return fresh;
}

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
  if (command.length > MAX_COMMAND_CHARS)
    return deny(`the command is longer than ${MAX_COMMAND_CHARS} characters`);
  if (SHELL_META.test(command))
    return deny(
      "the command may only be one program with plain arguments (no ; & | $ ` < > newlines or brackets)",
    );
  if (!allowed(policy.allowedCommands).some((re) => re.test(command)))
    return deny(
      `"${command.slice(0, 200)}" matches none of execPolicy.allowedCommands (${policy.allowedCommands.join(", ") || "none"})`,
    );
  return undefined;
}
