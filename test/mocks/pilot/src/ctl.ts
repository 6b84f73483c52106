import os from "node:os";
import path from "node:path";
import { COMMANDS, type Command, parseCommandLine, USAGE } from "./ctl-args.ts";
import { errorEnvelope, okEnvelope, PilotError } from "./errors.ts";
import { readJson } from "./files.ts";
import { goJson } from "./gojson.ts";
import { clearInbox, listInbox } from "./inbox.ts";
import { ipcCall } from "./ipc.ts";

/**
 * pilotctl, the stand-in: parses the command line (ctl-args.ts), asks the daemon over the IPC
 * socket (or, for `inbox`, reads ~/.pilot/inbox itself as the real one does), prints the
 * envelope (or text) and sets the exit code. JSON is printed as Go prints it (gojson.ts).
 */

/** What the real CLI says when nothing answers on the socket. */
const NOT_RUNNING = new PilotError("not_running", "daemon is not running", {
  hint: "start the daemon with: pilotctl daemon start",
});

async function answer(cmd: string, args: Record<string, unknown>, socket: string): Promise<unknown> {
  if (cmd === "inbox") return args.clear === true ? clearInbox(os.homedir()) : listInbox(os.homedir());
  try {
    return await ipcCall(socket, cmd, args);
  } catch (err) {
    if (err instanceof PilotError && err.code === "not_running") throw NOT_RUNNING;
    throw err;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes("--json");
  try {
    const config = readJson<{ socket?: unknown }>(path.join(os.homedir(), ".pilot", "config.json"), {});
    const inv = parseCommandLine(argv, process.env, config);
    if ("help" in inv) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    const data = (await answer(inv.cmd, inv.args, inv.socket)) as Record<string, unknown>;
    const spec = COMMANDS[inv.cmd] as Command;
    process.stdout.write(`${json ? goJson(okEnvelope(data)) : spec.text(data)}\n`);
  } catch (err) {
    const env = errorEnvelope(err);
    process.stderr.write(
      json ? `${goJson(env)}\n` : `error: ${env.message}\n${env.hint ? `hint:  ${env.hint}\n` : ""}`,
    );
    // exitCode, not exit(): a large answer on a pipe is flushed before the process ends.
    process.exitCode = 1;
  }
}

void main();
