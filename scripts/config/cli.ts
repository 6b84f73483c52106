import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic, writeJsonAtomic } from "@openclaw-bundle/shared";
import { oneLine } from "./env-fields.ts";
import { FileProblem, loadConfig, loadOwned, loadPlatform, readText, writeTarget } from "./files.ts";
import { type Identity, loadIdentity } from "./identity.ts";
import { desiredConfig } from "./patch.ts";
import type { Owned, PlatformConfig } from "./platform.ts";
import { readSettings, type Settings } from "./settings.ts";

/**
 * Called by entrypoint.sh before the gateway starts:
 *   node scripts/config/cli.ts            bring openclaw.json to the desired state, hand over BOOTSTRAP.md;
 *                                         when Pilot is configured, print the daemon's arguments on
 *                                         stdout, one per line (validated: none holds a newline)
 *   node scripts/config/cli.ts --dry-run  print the effective openclaw.json; write nothing
 * Exit codes: 0 ok, 2 bad environment (one line per problem), 3 unreadable config file.
 */

const EXIT_BAD_ENV = 2;
const EXIT_BAD_FILE = 3;
const OWNED_FILE = "bundle-owned.json";

const BUNDLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function say(line: string): void {
  process.stderr.write(`[bundle-config] ${oneLine(line)}\n`);
}

export interface Paths {
  configPath: string;
  stateDir: string;
  platformConfig: string;
  extensionsDir: string;
  agentruxDir: string;
}

function resolvePaths(env: NodeJS.ProcessEnv, home: string): Paths {
  const stateDir = env.OPENCLAW_STATE_DIR || path.join(home, ".openclaw");
  const bundleDir = env.OPENCLAW_BUNDLE_DIR || BUNDLE_DIR;
  return {
    configPath: env.OPENCLAW_CONFIG_PATH || path.join(stateDir, "openclaw.json"),
    stateDir,
    platformConfig: env.OPENCLAW_PLATFORM_CONFIG || path.join(bundleDir, "platform-config.json"),
    // The compiled plugin packages (scripts/build.ts), not the TypeScript sources in extensions/.
    extensionsDir: env.OPENCLAW_BUNDLE_EXTENSIONS || path.join(bundleDir, "dist", "extensions"),
    agentruxDir: path.join(home, ".agentrux"),
  };
}

/**
 * Hands the one-time activation code to the AgenTrux extension, which consumes BOOTSTRAP.md.
 * Never when credentials exist (the extension would quarantine it), never twice for a code the
 * broker already refused, never when the same code is already waiting.
 */
async function handOverActivationCode(s: Settings, dir: string): Promise<void> {
  const code = s.activationCode;
  if (!code) return;
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  if (entries.includes("credentials.json")) {
    say(
      "AGENTRUX_ACTIVATION_CODE is set but AgenTrux credentials exist; not handing it over (remove the variable)",
    );
    return;
  }
  for (const name of entries.filter((n) => n.startsWith("BOOTSTRAP.md"))) {
    const first = (await readText(path.join(dir, name)))
      ?.split("\n")
      .find((l) => l.startsWith("ac_") || l.startsWith("act_"));
    if (first?.trim() !== code) continue;
    if (name === "BOOTSTRAP.md" || name === "BOOTSTRAP.md.inflight") return; // already waiting
    say(`AGENTRUX_ACTIVATION_CODE was already refused by the broker (${name}); issue a new code`);
    return;
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  await writeFileAtomic(path.join(dir, "BOOTSTRAP.md"), `${code}\n`, { mode: 0o600 });
  say(
    `handed the AgenTrux activation code to ${path.join(dir, "BOOTSTRAP.md")} (one-time; the extension consumes it)`,
  );
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const dryRun = argv.includes("--dry-run");
  // Validated once before any file is read; read again below with the identity from the volume.
  let settings = readSettings(env);
  if (!settings.ok) {
    for (const p of settings.problems) process.stderr.write(`${p}\n`);
    say(`${settings.problems.length} problem(s) in the environment; nothing was changed`);
    return EXIT_BAD_ENV;
  }
  const paths = resolvePaths(env, settings.settings.home);
  let current: Record<string, unknown> | undefined;
  let platform: PlatformConfig;
  let target: string;
  let ownedPath: string;
  let owned: Owned | undefined;
  let identity: Identity;
  try {
    platform = await loadPlatform(paths.platformConfig);
    current = await loadConfig(paths.configPath);
    target = await writeTarget(paths.configPath);
    // Beside the file it describes: for a symlinked openclaw.json, beside the link's target.
    ownedPath = path.join(path.dirname(target), OWNED_FILE);
    const record = await loadOwned(ownedPath);
    if (record.problem) say(record.problem);
    owned = record.owned;
    identity = await loadIdentity(paths.stateDir, env, current, dryRun);
  } catch (err) {
    if (!(err instanceof FileProblem)) throw err;
    process.stderr.write(`${oneLine(err.message)}\n`);
    return EXIT_BAD_FILE;
  }
  settings = readSettings(env, identity);
  if (!settings.ok) throw new Error("the environment changed between two reads");
  say(
    [`identity ${identity.name} (${identity.source})`]
      .concat(settings.settings.ids.map((i) => `${i.what} ${i.value} (from ${i.from})`))
      .join("; "),
  );
  const result = desiredConfig(current ?? {}, settings.settings, platform, {
    extensionsDir: paths.extensionsDir,
    stateDir: paths.stateDir,
    owned,
  });
  for (const note of result.notes) say(note);
  if (dryRun) {
    process.stdout.write(`${JSON.stringify(result.config, null, 2)}\n`);
    return 0;
  }
  // The record first: should the config write fail after it, the record claims a value the file
  // lacks, which only drops it from the record on the next boot; the other order could leave a
  // value the bundle wrote unrecorded, never undone.
  if (JSON.stringify(result.owned) !== JSON.stringify(owned))
    await writeJsonAtomic(ownedPath, result.owned, { mode: 0o600 });
  const through = target === path.resolve(paths.configPath) ? "" : ` (through a symlink, to ${target})`;
  if (current === undefined || result.changed) {
    await writeJsonAtomic(target, result.config, { mode: 0o600 });
    say(`${current === undefined ? "created" : "updated"} ${paths.configPath}${through}`);
  } else {
    say(`${paths.configPath} already up to date${through}`);
    // It holds token references and maybe more: private even when nothing else changes.
    const mode = (await fs.stat(target)).mode & 0o777;
    if (mode !== 0o600) {
      await fs.chmod(target, 0o600);
      say(`made ${target} 0600 (was 0${mode.toString(8)})`);
    }
  }
  await handOverActivationCode(settings.settings, paths.agentruxDir);
  const pilot = settings.settings.pilot;
  if (pilot) {
    const dir = path.join(settings.settings.home, ".pilot");
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700);
    process.stdout.write(`${pilotDaemonArgs(pilot, dir).join("\n")}\n`);
  }
  return 0;
}

/** The daemon's flags, in the order the agent-registry extension's own daemon runner uses. */
function pilotDaemonArgs(p: NonNullable<Settings["pilot"]>, dir: string): string[] {
  return [
    ...["-registry", p.registry, "-beacon", p.beacon, "-listen", `:${p.port}`],
    ...["-identity", path.join(dir, "identity.json"), "-hostname", p.hostname],
    ...["-socket", p.socket, "-log-format", "json"],
    ...(p.publicIp ? ["-endpoint", `${p.publicIp}:${p.port}`] : []),
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`[bundle-config] failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
