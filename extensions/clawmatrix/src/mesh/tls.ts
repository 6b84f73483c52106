import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import tls from "node:tls";
import { writeFileAtomicSync } from "@openclaw-bundle/shared";
import type { ClientOptions } from "ws";
import { fingerprintOf, makeSelfSigned } from "../protocol/tls-cert.ts";

/**
 * PROTOCOL §2a: TLS on mesh links. A listener serves a certificate from files, or a self-signed one
 * kept in the state volume; a dialer reaches `wss://` only when it can check the other end, by the
 * certificate's pinned SHA-256 fingerprint or by a CA. The per-frame AEAD (§3a) runs inside either.
 */

export interface ListenerTls {
  cert: string;
  key: string;
  /** The certificate's fingerprint, as peers pin it (public: it is in every TLS handshake). */
  fingerprint: string;
}

export interface ListenerTlsConfig {
  certFile?: string;
  keyFile?: string;
  /** Generate a self-signed certificate in `<stateDir>/clawmatrix/` when none is there yet. */
  selfSigned?: boolean;
}

const SELF_CERT = "tls-cert.pem";
const SELF_KEY = "tls-key.pem";

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `cannot read the mesh TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
}

/** A certificate and key that belong together, or an error naming the file (never its content). */
function checked(cert: string, key: string, certFile: string, keyFile: string): ListenerTls {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new Error(`${certFile} is not a PEM certificate; expected -----BEGIN CERTIFICATE-----`);
  }
  let keyObj: ReturnType<typeof createPrivateKey>;
  try {
    keyObj = createPrivateKey(key);
  } catch {
    throw new Error(`${keyFile} is not a PEM private key; expected an unencrypted PKCS#8, EC or RSA key`);
  }
  if (!x509.checkPrivateKey(keyObj))
    throw new Error(`${keyFile} is not the private key of the certificate in ${certFile}`);
  return { cert, key, fingerprint: fingerprintOf(x509) };
}

/** The listener's TLS material, or undefined for a plain `ws://` listener. */
export function loadListenerTls(
  cfg: ListenerTlsConfig,
  stateDir: string,
  commonName: string,
): { tls: ListenerTls; created: boolean } | undefined {
  if (cfg.certFile || cfg.keyFile) {
    if (!cfg.certFile || !cfg.keyFile)
      throw new Error("mesh TLS needs both a certificate file and a key file; only one is set");
    const tlsFiles = checked(
      readPem(cfg.certFile, "certificate"),
      readPem(cfg.keyFile, "key"),
      cfg.certFile,
      cfg.keyFile,
    );
    return { tls: tlsFiles, created: false };
  }
  if (!cfg.selfSigned) return undefined;
  const dir = path.join(stateDir, "clawmatrix");
  const certFile = path.join(dir, SELF_CERT);
  const keyFile = path.join(dir, SELF_KEY);
  let cert: string | undefined;
  try {
    cert = readFileSync(certFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  // Kept across restarts: a new certificate would be a new fingerprint every peer must re-pin.
  if (cert !== undefined)
    return { tls: checked(cert, readPem(keyFile, "key"), certFile, keyFile), created: false };
  const made = makeSelfSigned({
    commonName,
    dnsNames: ["localhost", ...(/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(commonName) ? [commonName] : [])],
    ips: ["127.0.0.1"],
  });
  // Each file whole or absent; the certificate last, as its presence means "made": a crash
  // between the two leaves a key alone, and the next start makes both again.
  writeFileAtomicSync(keyFile, made.key, { mode: 0o600 });
  writeFileAtomicSync(certFile, made.cert, { mode: 0o644 });
  return { tls: made, created: true };
}

export class TlsPinError extends Error {
  readonly code = "TLS_PIN_MISMATCH";
}

/**
 * How to dial `url`: nothing extra for `ws://`; for `wss://`, the pinned fingerprint (checked
 * before the WebSocket upgrade can complete, so no mesh frame reaches an impostor) or the CA
 * (the usual chain and host-name checks). Neither: refused, with the reason.
 */
export function dialOptions(
  url: string,
  pin: string | undefined,
  ca: string | undefined,
): { ok: true; options: ClientOptions } | { ok: false; reason: string } {
  if (!url.startsWith("wss://")) return { ok: true, options: {} };
  if (pin)
    return {
      ok: true,
      options: {
        // The chain of a self-signed certificate cannot verify; the pin replaces it.
        rejectUnauthorized: false,
        createConnection: (opts) => {
          const o = opts as tls.ConnectionOptions & { host?: string };
          const host = o.host ?? "";
          const socket = tls.connect({ ...o, servername: isIP(host) ? undefined : host });
          socket.once("secureConnect", () => {
            const peerCert = socket.getPeerX509Certificate();
            const got = peerCert ? fingerprintOf(peerCert) : "none";
            if (got !== pin)
              socket.destroy(new TlsPinError(`TLS certificate sha256=${got} is not the pinned one: refused`));
          });
          return socket;
        },
      },
    };
  if (ca) return { ok: true, options: { ca, rejectUnauthorized: true } };
  return {
    ok: false,
    reason: `${url} is wss:// but has no pinned fingerprint (#sha256=<hex> in CLAWMATRIX_PEERS) and no CA (CLAWMATRIX_TLS_CA_FILE): refusing to dial an unverifiable TLS peer`,
  };
}
