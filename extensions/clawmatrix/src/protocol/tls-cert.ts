import { generateKeyPairSync, randomBytes, sign, X509Certificate } from "node:crypto";
import { isIPv4 } from "node:net";
import { z } from "zod";

/**
 * PROTOCOL §2a: the mesh listener's TLS certificate and the fingerprint peers pin. node:crypto
 * reads X.509 but cannot write it, so a self-signed certificate (ECDSA P-256, SHA-256) is encoded
 * here in DER directly: a dozen fixed ASN.1 elements, checked by parsing the result back with
 * node's own X509Certificate and by TLS handshakes in the tests.
 */

/** A certificate's SHA-256 fingerprint as peers pin it: 64 lowercase hex digits, no separators. */
export const FINGERPRINT_EXPECTED =
  "sha256=<64 hex digits> (the listener's certificate fingerprint; colons between bytes allowed)";
export const tlsFingerprint = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits (a SHA-256 certificate fingerprint)");

/** `AB:CD:...` or `abcd...` to the canonical form; undefined when it is not 32 bytes of hex. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.trim().toLowerCase();
  const plain = /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/.test(hex) ? hex.replaceAll(":", "") : hex;
  return /^[0-9a-f]{64}$/.test(plain) ? plain : undefined;
}

/** The pinned form of a certificate's fingerprint. */
export function fingerprintOf(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(":", "").toLowerCase();
}

// --- DER ----------------------------------------------------------------------------------------

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  if (n > 0xffff) throw new Error(`DER element of ${n} bytes: certificates here stay under 64 KiB`);
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);

function oid(text: string): Buffer {
  const [a = 0, b = 0, ...rest] = text.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, "ascii"))
    : tlv(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const COMMON_NAME = "2.5.4.3";
const SUBJECT_ALT_NAME = "2.5.29.17";

function name(cn: string): Buffer {
  return seq(tlv(0x31, seq(oid(COMMON_NAME), tlv(0x0c, Buffer.from(cn, "utf8")))));
}

function altNames(dns: readonly string[], ips: readonly string[]): Buffer {
  const entries = [
    ...dns.map((d) => tlv(0x82, Buffer.from(d, "ascii"))),
    ...ips.map((ip) => tlv(0x87, Buffer.from(ip.split(".").map(Number)))),
  ];
  return seq(oid(SUBJECT_ALT_NAME), tlv(0x04, seq(...entries)));
}

const DNS_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/;

export interface SelfSigned {
  /** PEM certificate and PKCS#8 PEM private key. */
  cert: string;
  key: string;
  fingerprint: string;
}

/**
 * A new self-signed certificate for `commonName`, valid from an hour ago for `days` days, with the
 * given DNS names and IPv4 addresses as subject alternative names (for CA-style verification).
 */
export function makeSelfSigned(
  opts: { commonName: string; dnsNames?: string[]; ips?: string[]; days?: number },
  now = new Date(),
): SelfSigned {
  const dns = opts.dnsNames ?? [];
  const ips = opts.ips ?? [];
  for (const d of dns) if (!DNS_NAME.test(d)) throw new Error(`${JSON.stringify(d)} is not a DNS name`);
  for (const ip of ips) if (!isIPv4(ip)) throw new Error(`${JSON.stringify(ip)} is not an IPv4 address`);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40; // positive, no leading zero byte: minimal DER
  const from = new Date(now.getTime() - 3_600_000);
  const until = new Date(now.getTime() + (opts.days ?? 3650) * 86_400_000);
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ECDSA_SHA256,
    name(opts.commonName),
    seq(time(from), time(until)),
    name(opts.commonName),
    publicKey.export({ type: "spki", format: "der" }),
    ...(dns.length + ips.length > 0 ? [tlv(0xa3, seq(altNames(dns, ips)))] : []),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  const cert = `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
  const key = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return { cert, key, fingerprint: fingerprintOf(new X509Certificate(cert)) };
}
