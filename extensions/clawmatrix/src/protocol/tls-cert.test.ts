import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fingerprintOf, makeSelfSigned, normalizeFingerprint, tlsFingerprint } from "./tls-cert.ts";

describe("self-signed mesh certificates (PROTOCOL §2a)", () => {
  it("are X.509 v3 that node parses, signed by their own key, with the names asked for", () => {
    const now = new Date("2026-11-29T08:00:00Z");
    const made = makeSelfSigned(
      { commonName: "node-a", dnsNames: ["localhost", "node-a"], ips: ["127.0.0.1"], days: 30 },
      now,
    );
    const x = new X509Certificate(made.cert);
    expect(x.subject).toBe("CN=node-a");
    expect(x.issuer).toBe("CN=node-a");
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(made.key))).toBe(true);
    expect(x.subjectAltName).toBe("DNS:localhost, DNS:node-a, IP Address:127.0.0.1");
    expect(new Date(x.validFrom).toISOString()).toBe("2026-11-29T07:00:00.000Z");
    expect(new Date(x.validTo).toISOString()).toBe("2026-12-29T08:00:00.000Z");
    expect(x.checkHost("node-a")).toBe("node-a");
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(made.fingerprint).toBe(fingerprintOf(x));
    expect(tlsFingerprint.safeParse(made.fingerprint).success).toBe(true);
  });

  it("encode dates from 2050 as GeneralizedTime and every certificate gets a new key and serial", () => {
    const a = makeSelfSigned({ commonName: "x", days: 365 * 30 }, new Date("2040-01-01T00:00:00Z"));
    const b = makeSelfSigned({ commonName: "x" });
    const xa = new X509Certificate(a.cert);
    expect(new Date(xa.validTo).getUTCFullYear()).toBe(2069);
    expect(xa.serialNumber).not.toBe(new X509Certificate(b.cert).serialNumber);
    expect(a.fingerprint).not.toBe(b.fingerprint);
  });

  it("refuse names that are not DNS names or IPv4 addresses", () => {
    expect(() => makeSelfSigned({ commonName: "x", dnsNames: ["bad name"] })).toThrow(/is not a DNS name/);
    expect(() => makeSelfSigned({ commonName: "x", ips: ["::1"] })).toThrow(/is not an IPv4 address/);
  });

  it("fingerprints are pinned as 64 lowercase hex digits, with colons accepted", () => {
    const hex = "ab".repeat(32);
    expect(normalizeFingerprint(hex.toUpperCase())).toBe(hex);
    expect(normalizeFingerprint(Array(32).fill("AB").join(":"))).toBe(hex);
    expect(normalizeFingerprint("ab".repeat(31))).toBeUndefined();
    expect(normalizeFingerprint(`${"ab".repeat(31)}zz`)).toBeUndefined();
    expect(normalizeFingerprint(`${"ab:".repeat(31)}abab`)).toBeUndefined();
    expect(tlsFingerprint.safeParse(hex.toUpperCase()).success).toBe(false);
  });
});
