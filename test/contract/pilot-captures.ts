import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The answers the real pilotctl and pilot-daemon gave (`../shared/upstream-captures`, outside this
 * repository: recorded from the real binaries and not to be copied in). The contract tests load
 * them; a machine without them skips those tests saying why, except in CI, where they must run.
 */

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const CAPTURES_FILE = path.join(REPO_ROOT, "../shared/upstream-captures/pilotctl-outputs.json");

export interface Capture {
  rc: number;
  stdout: string;
  stderr: string;
}

export interface PilotRecordings {
  captures: Record<string, Capture>;
  go_parse_addr: { results: Record<string, "ERR" | { network: number; node: number; string: string }> };
  daemon_flags: { flags: string[] };
  pilotctl_commands: { commands: string[] };
}

/** The recordings, or the reason they cannot be used (absent file); CI must have them. */
export function loadRecordings(): { recordings: PilotRecordings } | { missing: string } {
  if (!existsSync(CAPTURES_FILE)) return { missing: `${CAPTURES_FILE} does not exist` };
  return { recordings: JSON.parse(readFileSync(CAPTURES_FILE, "utf8")) as PilotRecordings };
}
