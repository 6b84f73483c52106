import { readFileSync } from "node:fs";
import path from "node:path";
import { type Logger, writeJsonAtomic } from "@openclaw-bundle/shared";
import { z } from "zod";
import { nodeId } from "../protocol/frames.ts";
import { NodeKey, publicKeyText, storedKey } from "../protocol/identity.ts";
import { DhKey, storedDhKey } from "../protocol/pair-key.ts";
import { KeyPins, MAX_PINNED_KEYS, type TrustedKey } from "../protocol/pins.ts";

/**
 * PROTOCOL §3b: where a node keeps its identity. In the state volume, under `clawmatrix/`:
 * `node-key.json` (the Ed25519 key pair, 0600), `node-dh-key.json` (the X25519 key pair of the
 * pair keys, PROTOCOL §6a, 0600) and `peer-keys.json` (the keys pinned at first sight, 0600),
 * all written atomically. A key file that exists but cannot be read is an error,
 * never silently replaced: a new key would be a changed key to every peer that pinned the old one.
 */

const KEY_FILE = "node-key.json";
const DH_KEY_FILE = "node-dh-key.json";
const PINS_FILE = "peer-keys.json";
const pinsFile = z.object({ v: z.literal(1), keys: z.record(nodeId, publicKeyText) }).strict();

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

function parse<T>(file: string, text: string, schema: z.ZodType<T>, expected: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; expected ${expected}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(
      `${file}: ${issue?.path.join(".") || "(root)"} ${issue?.message ?? "invalid"}; expected ${expected}`,
    );
  }
  return r.data;
}

/** A key file's key, undefined when there is none; throws when it exists but cannot be used. */
function readKey<S, K>(
  file: string,
  schema: z.ZodType<S>,
  expected: string,
  from: (s: S) => K,
): K | undefined {
  const text = readText(file);
  return text === undefined ? undefined : from(parse(file, text, schema, expected));
}

export class MeshIdentity {
  readonly key: NodeKey;
  readonly dhKey: DhKey;
  readonly pins: KeyPins;
  /** Why the stored identity cannot be used; start() fails with it. */
  readonly problem: string | undefined;
  readonly #dir: string;
  readonly #log: Logger;
  #keyIsNew = false;
  #dhKeyIsNew = false;
  #saving: Promise<void> = Promise.resolve();

  /** Reads both files now (a service constructor is synchronous); writes happen in save(). */
  constructor(stateDir: string, trusted: readonly TrustedKey[], log: Logger) {
    this.#dir = path.join(stateDir, "clawmatrix");
    this.#log = log;
    let key: NodeKey | undefined;
    let pinned: Record<string, string> = {};
    let problem: string | undefined;
    const keyPath = path.join(this.#dir, KEY_FILE);
    try {
      key = readKey(keyPath, storedKey, "a ClawMatrix node key (v1, OKP Ed25519)", NodeKey.fromStored);
    } catch (err) {
      problem = `cannot use the node key in ${keyPath}: ${(err as Error).message} (restore it, or delete it to make a new identity that peers which pinned the old one will refuse)`;
    }
    let dhKey: DhKey | undefined;
    const dhPath = path.join(this.#dir, DH_KEY_FILE);
    try {
      dhKey = readKey(dhPath, storedDhKey, "a ClawMatrix pair key (v1, OKP X25519)", DhKey.fromStored);
    } catch (err) {
      // Not replaced silently either; losing it costs less (the new one is gossiped, signed).
      problem ??= `cannot use the X25519 key in ${dhPath}: ${(err as Error).message} (restore it, or delete it to make a new one)`;
    }
    const pinsPath = path.join(this.#dir, PINS_FILE);
    try {
      const text = readText(pinsPath);
      if (text !== undefined) pinned = parse(pinsPath, text, pinsFile, "pinned peer keys (v1)").keys;
    } catch (err) {
      // Forgetting pins would accept any key again: refuse to start instead.
      problem ??= `cannot use the pinned peer keys in ${pinsPath}: ${(err as Error).message}`;
    }
    if (!key) {
      key = NodeKey.generate();
      this.#keyIsNew = problem === undefined;
    }
    this.key = key;
    if (!dhKey) {
      dhKey = DhKey.generate();
      this.#dhKeyIsNew = problem === undefined;
    }
    this.dhKey = dhKey;
    this.problem = problem;
    this.pins = new KeyPins({
      trusted,
      pinned,
      capacity: MAX_PINNED_KEYS,
      onPin: (all) => this.#savePins(all),
    });
  }

  /** Persists a newly generated key before the node uses it; throws when the identity is unusable. */
  async save(): Promise<void> {
    if (this.problem) throw new Error(this.problem);
    if (this.#dhKeyIsNew) {
      await writeJsonAtomic(path.join(this.#dir, DH_KEY_FILE), this.dhKey.toStored(), { mode: 0o600 });
      this.#dhKeyIsNew = false;
    }
    if (!this.#keyIsNew) return;
    await writeJsonAtomic(path.join(this.#dir, KEY_FILE), this.key.toStored(), { mode: 0o600 });
    this.#keyIsNew = false;
    this.#log.info(`mesh identity created: public key ${this.key.publicKey}`);
  }

  /** Resolves once every pin made so far is on disk. */
  flushed(): Promise<void> {
    return this.#saving;
  }

  #savePins(all: Record<string, string>): void {
    // Writes run one after another, each with the table as it was when asked: the last one wins.
    this.#saving = this.#saving
      .then(() => writeJsonAtomic(path.join(this.#dir, PINS_FILE), { v: 1, keys: all }, { mode: 0o600 }))
      .catch((err: Error) => this.#log.error(`could not save pinned peer keys: ${err.message}`));
  }
}
