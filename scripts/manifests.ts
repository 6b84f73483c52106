import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BUNDLE_EXTENSIONS } from "@openclaw-bundle/shared";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface ManifestSource {
  id: string;
  name: string;
  description: string;
  config: { jsonSchema(): Record<string, unknown> };
  /** Agent tools the plugin registers; the host wants them declared (contracts.tools). */
  tools?: readonly string[];
  /** Root CLI commands the plugin registers (manifest `cliCommands`). */
  cliCommands?: ReadonlyArray<{ name: string; description: string; hasSubcommands: boolean }>;
  /** Channels the plugin owns (manifest `channels`, with an empty `channels.<id>` section schema). */
  channels?: readonly string[];
}

function renderManifest(src: ManifestSource, version: string): string {
  const manifest = {
    id: src.id,
    name: src.name,
    description: src.description,
    version,
    // Without this the gateway does not load the plugin at start (OPENCLAW-HOST.md).
    activation: { onStartup: true },
    configSchema: src.config.jsonSchema(),
    ...(src.tools?.length ? { contracts: { tools: [...src.tools] } } : {}),
    ...(src.cliCommands?.length ? { cliCommands: src.cliCommands.map((c) => ({ ...c })) } : {}),
    // The channel's settings live in the plugin config (the env contract writes them there); the
    // `channels.<id>` section only takes the host's own per-channel switches.
    ...(src.channels?.length
      ? {
          channels: [...src.channels],
          channelConfigs: Object.fromEntries(
            src.channels.map((id) => [
              id,
              {
                schema: {
                  type: "object",
                  properties: { enabled: { type: "boolean" } },
                  additionalProperties: false,
                },
              },
            ]),
          ),
        }
      : {}),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Each bundle extension's `src/manifest.ts` (the zod schema there is the one source of the JSON
 * Schema), rendered; an extension whose manifest declares another plugin id than the bundle's list
 * stops the run, because the config step and the healthcheck would address a plugin that is not there.
 */
async function expectedManifests(): Promise<Array<{ file: string; text: string }>> {
  return Promise.all(
    BUNDLE_EXTENSIONS.map(async ({ id, folder }) => {
      const dir = path.join(ROOT, "extensions", folder);
      const { MANIFEST } = (await import(pathToFileURL(path.join(dir, "src/manifest.ts")).href)) as {
        MANIFEST: ManifestSource;
      };
      if (MANIFEST.id !== id)
        throw new Error(
          `extensions/${folder}/src/manifest.ts declares id "${MANIFEST.id}"; packages/shared/src/bundle.ts says "${id}"`,
        );
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
      return { file: path.join(dir, "openclaw.plugin.json"), text: renderManifest(MANIFEST, pkg.version) };
    }),
  );
}

// `node scripts/manifests.ts` writes them; `--check` fails when a committed one is stale.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const { file, text } of await expectedManifests()) {
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch {}
    if (current === text) continue;
    if (check) {
      stale++;
      console.error(`stale: ${path.relative(ROOT, file)} (run npm run manifests)`);
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${path.relative(ROOT, file)}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
