import { errorFactory } from "@openclaw-bundle/shared";

/**
 * Pilot Protocol virtual addresses, `N:NNNN.HHHH.LLLL` (EXTERNAL-APIS.md section 3): a decimal
 * realm prefix (normally 0), the 16-bit network as one hex group, and the 32-bit node id as two
 * hex groups. The public client read the node id from the last group only, so every node above
 * 0xFFFF was confused with another; here both groups always make the id.
 */

export const pilotError = errorFactory("PILOT_ERR");
export const MAX_NODE_ID = 0xffffffff;
const MAX_NETWORK = 0xffff;
/** The realm prefix is decimal; the Pilot spec gives it 16 bits like the network. */
const MAX_REALM = 0xffff;
const EXPECTED =
  "N:NNNN.HHHH.LLLL (the network in decimal, the same network as 4 hex digits, then two groups of 4 hex digits)";

// As Go's protocol.ParseAddr (upstream-captures go_parse_addr): every group exactly 4 hex digits
// (`0:000.0000.0001` is refused), and the decimal prefix must be the network of the first group
// (`2:0001.0000.0001` is refused).
const ADDRESS = /^(\d{1,5}):([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$/i;
const DECIMAL_ID = /^\d{1,10}$/;

interface PilotAddress {
  realm: number;
  network: number;
  nodeId: number;
}

/** Parses an address; throws PILOT_ERR_BAD_ADDRESS naming the value and the expected form. */
export function parseAddress(s: string): PilotAddress {
  const m = ADDRESS.exec(typeof s === "string" ? s.trim() : "");
  const realm = m ? Number(m[1]) : Number.NaN;
  if (!m || realm > MAX_REALM || realm !== Number.parseInt(m[2] ?? "", 16)) {
    const value = String(s).slice(0, 80);
    throw pilotError("BAD_ADDRESS", `${JSON.stringify(value)} is not a Pilot address; expected ${EXPECTED}`, {
      details: { value },
    });
  }
  const [, , net = "", high = "", low = ""] = m;
  // Multiplying instead of shifting: `<<` works on signed 32-bit ints and would go negative.
  const nodeId = Number.parseInt(high, 16) * 0x10000 + Number.parseInt(low, 16);
  return { realm, network: Number.parseInt(net, 16), nodeId };
}

export function isAddress(s: unknown): s is string {
  if (typeof s !== "string") return false;
  const m = ADDRESS.exec(s.trim());
  return m !== null && Number(m[1]) <= MAX_REALM && Number(m[1]) === Number.parseInt(m[2] ?? "", 16);
}

export function isNodeId(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= MAX_NODE_ID;
}

/** Formats a node id as `N:NNNN.HHHH.LLLL`: the network in decimal and hex, upper-case, zero-padded. */
export function formatAddress(nodeId: number, network = 0): string {
  if (!isNodeId(nodeId))
    throw pilotError("BAD_ADDRESS", `node id ${nodeId} is not an integer in 0..${MAX_NODE_ID}`);
  if (!Number.isInteger(network) || network < 0 || network > MAX_NETWORK)
    throw pilotError("BAD_ADDRESS", `network ${network} is not an integer in 0..${MAX_NETWORK}`);
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  return `${network}:${hex(network)}.${hex(Math.floor(nodeId / 0x10000))}.${hex(nodeId % 0x10000)}`;
}

/**
 * The node id a send target names: an address, a decimal id (string or number), or undefined for
 * anything else — typically a hostname, which only the daemon (or the registry) can resolve.
 */
export function nodeIdOf(target: string | number): number | undefined {
  if (typeof target === "number") return isNodeId(target) ? target : undefined;
  const t = target.trim();
  if (isAddress(t)) return parseAddress(t).nodeId;
  if (DECIMAL_ID.test(t)) {
    const n = Number(t);
    return isNodeId(n) ? n : undefined;
  }
  return undefined;
}
