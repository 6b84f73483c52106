import path from "node:path";
import { BUNDLE_EXTENSIONS, type BundleExtensionId } from "../../packages/shared/src/bundle.ts";
import { REPO_ROOT } from "./node24.ts";

/**
 * The compiled plugin packages (scripts/build.ts), in load order, from the bundle's one list:
 * what the image loads, so what the tests load.
 */
const EXTENSION_DIRS = Object.fromEntries(
  BUNDLE_EXTENSIONS.map((e) => [e.id, path.join(REPO_ROOT, "dist", "extensions", e.folder)]),
) as Record<BundleExtensionId, string>;

type ExtensionId = BundleExtensionId;
export const EXTENSION_IDS: ExtensionId[] = BUNDLE_EXTENSIONS.map((e) => e.id);

export interface GatewayConfigInput {
  port: number;
  token: string;
  logFile: string;
  /** Extensions to load, each with its plugin config (omit to load none). */
  extensions?: Partial<Record<ExtensionId, Record<string, unknown>>>;
  /** Base URL (…/v1) of an OpenAI-compatible server used as the agents' default model. */
  llmBaseUrl?: string;
  llmModel?: string;
  /** Deep-merged over the generated config, for test-specific keys. */
  extra?: Record<string, unknown>;
}

export const MOCK_PROVIDER_ID = "mockllm";

/**
 * Entry-level settings the bundle's platform config also sets: the lease extension reads token
 * usage from the `llm_output` hook, which the host only grants non-bundled plugins explicitly.
 */
const ENTRY_DEFAULTS: Partial<Record<ExtensionId, Record<string, unknown>>> = {
  "auth-manager-lease-telemetry": { hooks: { allowConversationAccess: true } },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

/**
 * A headless gateway's openclaw.json with the quiet settings of OPENCLAW-HOST.md: no catalog
 * refresh, no update check, logs to a file of the test's own — so a test gateway never reaches out
 * to the internet.
 */
export function buildGatewayConfig(input: GatewayConfigInput): Record<string, unknown> {
  const ids = Object.keys(input.extensions ?? {}) as ExtensionId[];
  const entries: Record<string, unknown> = {};
  for (const id of ids)
    entries[id] = { enabled: true, ...ENTRY_DEFAULTS[id], config: input.extensions?.[id] ?? {} };
  const model = input.llmModel ?? "mock-model";
  const config: Record<string, unknown> = {
    gateway: {
      mode: "local",
      port: input.port,
      bind: "loopback",
      auth: { mode: "token", token: input.token },
      http: { endpoints: { chatCompletions: { enabled: true } } },
    },
    plugins: {
      ...(ids.length > 0
        ? { load: { paths: ids.map((id) => EXTENSION_DIRS[id]) }, allow: ids, entries }
        : {}),
    },
    models: { catalogRefresh: { enabled: false } },
    update: { checkOnStart: false },
    logging: { file: input.logFile },
  };
  if (input.llmBaseUrl) {
    config.models = {
      catalogRefresh: { enabled: false },
      providers: {
        [MOCK_PROVIDER_ID]: {
          baseUrl: input.llmBaseUrl,
          api: "openai-completions",
          apiKey: "mock-llm-key",
          models: [
            {
              id: model,
              name: "Mock model",
              reasoning: false,
              input: ["text"],
              cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
              contextWindow: 128000,
              maxTokens: 4096,
            },
          ],
        },
      },
    };
    config.agents = { defaults: { model: { primary: `${MOCK_PROVIDER_ID}/${model}` } } };
  }
  return input.extra ? deepMerge(config, input.extra) : config;
}
