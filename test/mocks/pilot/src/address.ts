/**
 * Pilot virtual addresses, `N:NNNN.HHHH.LLLL`: the network id in decimal, the same network id as
 * four hex digits, then the 32-bit node id as two groups of four uppercase hex digits. Node ids
 * above 0xFFFF are the norm, so both node groups always count (a client that reads only the last
 * group gets the wrong node: a bug the public registry client had).
 */

/** The stand-in runs everything on the public backbone. */
export const NETWORK = 0;
const MAX_NODE_ID = 0xffffffff;

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");

export function isNodeId(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= MAX_NODE_ID;
}

export function formatAddress(nodeId: number, network = NETWORK): string {
  if (!isNodeId(nodeId)) throw new RangeError(`node id ${nodeId} is not a 32-bit unsigned integer`);
  return `${network}:${hex4(network)}.${hex4(Math.floor(nodeId / 0x10000))}.${hex4(nodeId % 0x10000)}`;
}

const ADDRESS = /^(\d{1,5}):([0-9A-Fa-f]{4})\.([0-9A-Fa-f]{4})\.([0-9A-Fa-f]{4})$/;

/** `{ network, nodeId }`, or undefined when the text is not an address (or N and NNNN disagree). */
export function parseAddress(text: string): { network: number; nodeId: number } | undefined {
  const m = ADDRESS.exec(text);
  if (!m) return undefined;
  const network = Number(m[1]);
  if (network !== Number.parseInt(m[2] as string, 16)) return undefined;
  const nodeId = Number.parseInt(m[3] as string, 16) * 0x10000 + Number.parseInt(m[4] as string, 16);
  return { network, nodeId };
}

/** Hostnames as the registry accepts them: a DNS label-ish name, not all digits. */
export const HOSTNAME = /^(?!\d+$)[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The real registry's rule for a node's hostname (pkg/registry/server.go validateHostname). */
const PILOT_HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED_HOSTNAMES = new Set(["localhost", "backbone", "broadcast"]);

/** Why the real registry refuses this hostname, or undefined when it takes it. */
export function hostnameProblem(name: string): string | undefined {
  if (name.length > 63) return "hostname too long (max 63 chars)";
  if (!PILOT_HOSTNAME.test(name))
    return "hostname must be lowercase alphanumeric with hyphens, start/end with alphanumeric";
  if (RESERVED_HOSTNAMES.has(name)) return `hostname ${JSON.stringify(name)} is reserved`;
  return undefined;
}

/** What a `<target>` argument names: a node id (address or decimal) or a hostname to resolve. */
export type Target = { kind: "id"; nodeId: number } | { kind: "hostname"; hostname: string };

export function parseTarget(text: string): Target | undefined {
  const addr = parseAddress(text);
  if (addr) return addr.network === NETWORK ? { kind: "id", nodeId: addr.nodeId } : undefined;
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return isNodeId(n) ? { kind: "id", nodeId: n } : undefined;
  }
  return HOSTNAME.test(text) ? { kind: "hostname", hostname: text } : undefined;
}

/** `host:port` as `-registry` and `-beacon` take it (host may be a name or an IPv4 address). */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: m[1] as string, port };
}
