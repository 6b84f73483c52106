import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The recorded answers of the real programs (upstream-captures), as the repository holds them:
 * verbatim copies of `../shared/upstream-captures`, which a clean clone does not have. Where the
 * shared original is present it must be byte-identical, so a copy can never drift from what the
 * real programs said.
 */

const HERE = path.join(import.meta.dirname, "upstream-captures");
const SHARED = path.resolve(import.meta.dirname, "../../../shared/upstream-captures");

export type CaptureName = "pilotctl-outputs.json" | "auth-manager-exchanges.json";

export const captureFile = (name: CaptureName) => path.join(HERE, name);

/** The recording's text; throws when the shared original exists and differs from the copy. */
export function readCapture(name: CaptureName): string {
  const text = readFileSync(captureFile(name), "utf8");
  const original = path.join(SHARED, name);
  if (existsSync(original) && readFileSync(original, "utf8") !== text)
    throw new Error(`${captureFile(name)} differs from ${original}: copy the original again, unedited`);
  return text;
}
