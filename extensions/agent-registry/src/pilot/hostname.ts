import { createHash } from "node:crypto";

/**
 * The hostname the Pilot daemon registers (`-hostname`). The real registry takes lowercase
 * letters, digits and `-`, 1-63 characters, starting and ending with a letter or digit, and not
 * `localhost`, `backbone` or `broadcast` (pilotprotocol pkg/registry validateHostname); given
 * anything else the daemon runs without a hostname, silently. The registry hostname (what other
 * agents find this one by) may be wider, e.g. the container's hostname with dots or capitals: then
 * Pilot gets a name derived from it (pilotHostname), and `pilot.hostname` may set one explicitly,
 * which the config schema checks with PILOT_HOSTNAME_EXPECTED. Messages go by node id, so the Pilot
 * hostname is only what `pilotctl peers`/`lookup` show.
 */

export const PILOT_HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED = new Set(["localhost", "backbone", "broadcast"]);
const MAX = 63;

export const PILOT_HOSTNAME_EXPECTED =
  'lowercase letters, digits and "-", 1-63 characters, starting and ending with a letter or digit, not localhost, backbone or broadcast';

export function isPilotHostname(name: string): boolean {
  return PILOT_HOSTNAME.test(name) && !RESERVED.has(name);
}

/** `name` when Pilot takes it; else lowercased, other characters as "-", cut to 63. */
export function pilotHostname(name: string): string {
  if (isPilotHostname(name)) return name;
  const derived = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .slice(0, MAX)
    .replace(/^-+|-+$/g, "");
  if (isPilotHostname(derived)) return derived;
  // Nothing usable is left (or a reserved word): a stable name from a hash of the original.
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  return `agent-${hash}`;
}
