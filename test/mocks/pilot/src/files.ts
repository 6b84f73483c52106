import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isNodeId } from "./address.ts";

/**
 * Files under `~/.pilot` and the identity. Writes are tmp + rename so a daemon killed mid-write
 * (SIGKILL is how the entrypoint's supervisor and the tests stop it) never leaves half a file;
 * everything is synchronous because the files are small and one daemon owns them, which also
 * keeps the order of writes the order of events.
 */

export function ensurePrivateDir(dir: string): void {
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    fs.writeFileSync(tmp, content, { mode });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export const writeJsonAtomic = (file: string, value: unknown, mode = 0o600) =>
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode);

/** The parsed file, or `fallback` when it does not exist; a corrupt file is an error, never reset. */
export function readJson<T>(file: string, fallback: T): T {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file} is not valid JSON; move it away to start over`, { cause: err });
  }
}

/** `identity.json`: the ed25519 keypair (raw 32-byte keys, base64) and the node id once assigned. */
export interface IdentityFile {
  version: 1;
  public_key: string;
  private_key: string;
  node_id: number | null;
  created_at: string;
}

export interface Identity {
  file: string;
  publicKey: string;
  privateKey: KeyObject;
  nodeId: number | null;
  data: IdentityFile;
}

const b64 = (b64url: string) => Buffer.from(b64url, "base64url").toString("base64");
const b64url = (b64: string) => Buffer.from(b64, "base64").toString("base64url");

/** Loads the identity, or creates and saves a new one (0600, parent 0700) when there is none. */
export function loadOrCreateIdentity(file: string): Identity {
  let data = readJson<IdentityFile | null>(file, null);
  if (!data) {
    const { privateKey } = generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" });
    data = {
      version: 1,
      public_key: b64(jwk.x as string),
      private_key: b64(jwk.d as string),
      node_id: null,
      created_at: new Date().toISOString(),
    };
    writeJsonAtomic(file, data);
  }
  if (typeof data.public_key !== "string" || typeof data.private_key !== "string")
    throw new Error(`${file} has no public_key/private_key`);
  const privateKey = createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", x: b64url(data.public_key), d: b64url(data.private_key) },
    format: "jwk",
  });
  const nodeId = isNodeId(data.node_id) ? data.node_id : null;
  return { file, publicKey: data.public_key, privateKey, nodeId, data };
}

/** Records the node id the rendezvous assigned, so a restart asks for the same one back. */
export function saveNodeId(identity: Identity, nodeId: number): void {
  if (identity.nodeId === nodeId) return;
  identity.nodeId = nodeId;
  identity.data = { ...identity.data, node_id: nodeId };
  writeJsonAtomic(identity.file, identity.data);
}
