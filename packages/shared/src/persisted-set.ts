import { z } from "zod";
import { readJsonFile, writeJsonAtomic } from "./atomic-file.ts";
import { BoundedSet } from "./dedup.ts";

/**
 * A bounded set of keys that outlives the process: "never handle this twice" for inputs that
 * can come back after a restart (an inbox cleared late, a redelivery). Keys are kept newest last
 * in a JSON array (0600, atomic), at most `capacity`; a file that does not parse is started over
 * rather than trusted.
 */
export class PersistedSet {
  readonly #set: BoundedSet<string>;
  readonly #order: string[] = [];
  readonly #file: string;
  readonly #capacity: number;
  #dirty = false;

  constructor(file: string, capacity: number) {
    this.#file = file;
    this.#capacity = capacity;
    this.#set = new BoundedSet(capacity);
  }

  get size(): number {
    return this.#set.size;
  }

  async load(): Promise<void> {
    const r = z.array(z.string().max(1024)).safeParse(await readJsonFile(this.#file).catch(() => undefined));
    if (!r.success) return;
    for (const k of r.data.slice(-this.#capacity)) this.#remember(k);
    this.#dirty = false;
  }

  has(key: string): boolean {
    return this.#set.has(key);
  }

  /** Adds a key; false when it was there already. */
  add(key: string): boolean {
    if (this.#set.has(key)) return false;
    this.#remember(key);
    return true;
  }

  #remember(key: string): void {
    this.#set.add(key);
    this.#order.push(key);
    if (this.#order.length > this.#capacity) this.#order.shift();
    this.#dirty = true;
  }

  /** Writes the keys when something changed since the last save. */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await writeJsonAtomic(this.#file, this.#order, { mode: 0o600 });
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }
}
