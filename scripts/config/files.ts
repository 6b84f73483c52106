import { promises as fs } from "node:fs";
import JSON5 from "json5";
import { type Owned, ownedSchema, type PlatformConfig, platformConfigSchema } from "./platform.ts";

/** Reading the files the config step works on; every failure is a FileProblem (exit 3). */

export class FileProblem extends Error {}

export async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new FileProblem(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

export async function loadPlatform(file: string): Promise<PlatformConfig> {
  const text = await readText(file);
  if (text === undefined) throw new FileProblem(`${file}: platform config not found`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FileProblem(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const r = platformConfigSchema.safeParse(parsed);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new FileProblem(`${file}: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

export async function loadConfig(file: string): Promise<Record<string, unknown> | undefined> {
  const text = await readText(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch (err) {
    throw new FileProblem(
      `${file} does not parse (${(err as Error).message}); fix or remove it — it was left unchanged`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new FileProblem(
      `${file} holds a JSON ${Array.isArray(parsed) ? "array" : typeof parsed}, expected an object; it was left unchanged`,
    );
  return parsed as Record<string, unknown>;
}

/**
 * The file a write goes to. A symlinked openclaw.json (a config kept elsewhere, e.g. in a
 * mounted folder) is written through to its target, atomically beside the target, so the link
 * stays a link; a link to nothing is refused rather than replaced by a regular file.
 */
export async function writeTarget(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    if (code !== "ENOENT") throw new FileProblem(`${file}: cannot be resolved (${code})`);
  }
  const link = await fs.lstat(file).catch(() => undefined);
  if (link?.isSymbolicLink())
    throw new FileProblem(
      `${file} is a symlink to ${await fs.readlink(file)}, which does not exist; create the target or remove the link`,
    );
  return file;
}

/**
 * The ownership record of the platform patches. A missing or unreadable one gives undefined: the
 * patcher then assumes every platform value in the file is the bundle's, as before the record.
 */
export async function loadOwned(file: string): Promise<{ owned?: Owned; problem?: string }> {
  const text = await readText(file);
  if (text === undefined) return {};
  try {
    const r = ownedSchema.safeParse(JSON.parse(text));
    if (r.success) return { owned: r.data };
  } catch {}
  return { problem: `${file} is not a valid ownership record; rebuilt from platform-config.json` };
}
