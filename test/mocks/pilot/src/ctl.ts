import { COMMANDS, type Command, parseCommandLine, USAGE } from "./ctl-args.ts";
import { errorEnvelope, okEnvelope } from "./errors.ts";
import { ipcCall } from "./ipc.ts";

/**
 * pilotctl, the stand-in: parses the command line (ctl-args.ts), asks the daemon over the IPC
 * socket, prints the envelope (or text) and sets the exit code.
 */

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes("--json") || argv.includes("-json");
  try {
    const inv = parseCommandLine(argv, process.env);
    if ("help" in inv) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    const data = (await ipcCall(inv.socket, inv.cmd, inv.args)) as Record<string, unknown>;
    const spec = COMMANDS[inv.cmd] as Command;
    process.stdout.write(`${json ? JSON.stringify(okEnvelope(data)) : spec.text(data)}\n`);
  } catch (err) {
    const env = errorEnvelope(err);
    process.stderr.write(
      json ? `${JSON.stringify(env)}\n` : `Error: ${env.message}\n${env.hint ? `Hint: ${env.hint}\n` : ""}`,
    );
    // exitCode, not exit(): a large answer on a pipe is flushed before the process ends.
    process.exitCode = 1;
  }
}

void main();
