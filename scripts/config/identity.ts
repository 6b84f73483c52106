import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { FileProblem, readText } from "./files.ts";
import { getPath, type Obj } from "./json-path.ts";

/**
 * The node's stable name, kept in the state volume (`<state dir>/bundle-identity.json`), so the
 * mesh node id, registry hostname, installation id and lease machine id that default to it do not
 * change when the container is recreated without a fixed hostname — while the volume keeps the
 * Pilot identity, AgenTrux credentials and lease made under the old name.
 */

export const IDENTITY_FILE = "bundle-identity.json";
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Docker's default hostname: the container id's first 12 hex digits, new on every recreate. */
const DOCKER_HOSTNAME = /^[0-9a-f]{12}$/;

const ORIGINS = {
  "openclaw.json": "the registry hostname an earlier boot wrote to openclaw.json",
  hostname: "the hostname at first boot",
  generated: "generated at first boot (the hostname looked like Docker's random one)",
} as const;
type Origin = keyof typeof ORIGINS;

const recordSchema = z
  .object({
    version: z.literal(1),
    name: z.string().regex(NAME),
    origin: z.enum(Object.keys(ORIGINS) as [Origin, ...Origin[]]),
    createdAt: z.string(),
  })
  .strict();
type IdentityRecord = z.infer<typeof recordSchema>;

export interface Identity {
  name: string;
  /** Where the name came from, for the log and `--dry-run`. */
  source: string;
}

/**
 * The first boot's name: the registry hostname an earlier version wrote (the name the registry and
 * Pilot already know), else a hostname that was set on purpose, else a generated one.
 */
function firstName(env: NodeJS.ProcessEnv, current: Obj | undefined): { name: string; origin: Origin } {
  const earlier = current && getPath(current, "plugins.entries.agent-registry.config.hostname");
  if (typeof earlier === "string" && NAME.test(earlier)) return { name: earlier, origin: "openclaw.json" };
  const host = env.HOSTNAME?.trim() || os.hostname();
  if (NAME.test(host) && !DOCKER_HOSTNAME.test(host)) return { name: host, origin: "hostname" };
  return { name: `openclaw-${randomBytes(4).toString("hex")}`, origin: "generated" };
}

function describe(r: IdentityRecord, file: string, created: boolean): string {
  return `${file}, ${created ? "created now" : `since ${r.createdAt.slice(0, 10)}`}: ${ORIGINS[r.origin]}`;
}

async function read(file: string): Promise<IdentityRecord | undefined> {
  const text = await readText(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {}
  const r = recordSchema.safeParse(parsed);
  if (!r.success)
    throw new FileProblem(
      `${file} is not a valid identity record; fix it, or remove it to take a new identity (ids not set by a variable will change)`,
    );
  return r.data;
}

/**
 * Reads the identity, or on first boot makes one and (unless `dryRun`) keeps it: written to a
 * temp file (0600, synced) and hard-linked into place, so two first boots at once agree on the
 * one that landed first and nobody ever reads a half-written record.
 */
export async function loadIdentity(
  stateDir: string,
  env: NodeJS.ProcessEnv,
  current: Obj | undefined,
  dryRun: boolean,
): Promise<Identity> {
  const file = path.join(stateDir, IDENTITY_FILE);
  const existing = await read(file);
  if (existing) return { name: existing.name, source: describe(existing, file, false) };
  const record: IdentityRecord = {
    version: 1,
    ...firstName(env, current),
    createdAt: new Date().toISOString(),
  };
  if (dryRun) return { name: record.name, source: `${ORIGINS[record.origin]}; a dry run does not keep it` };
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await fs.open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A filesystem without hard links: still atomic, only not exclusive.
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") await fs.rename(tmp, file);
    else if (code !== "EEXIST") throw err;
    const winner = await read(file);
    if (winner)
      return { name: winner.name, source: describe(winner, file, winner.createdAt === record.createdAt) };
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return { name: record.name, source: describe(record, file, true) };
}
