import { existsSync } from "node:fs";
import path from "node:path";
import { captureFile, readCapture } from "./captures.ts";

/**
 * The answers the real pilotctl and pilot-daemon gave (upstream-captures; the repository holds a
 * verbatim copy, checked against the shared original by captures.ts). The contract tests load them.
 */

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
export const CAPTURES_FILE = captureFile("pilotctl-outputs.json");

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
  return { recordings: JSON.parse(readCapture("pilotctl-outputs.json")) as PilotRecordings };
}
