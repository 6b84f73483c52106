import { defineConfigSchema } from "@openclaw-bundle/shared";
import { z } from "zod";
import { compileAllowed } from "./command-patterns.ts";

/** Defaults of the AgenTrux OpenClaw plugin 0.7.4 this bundle stays compatible with. */
const DEFAULT_BASE_URL = "https://api.agentrux.com";
const DEFAULT_POLL_INTERVAL_MS = 60_000;
const DEFAULT_MAX_CONCURRENCY = 3;
const DEFAULT_SUBAGENT_TIMEOUT_MS = 120_000;

const topicId = z.string().min(1).max(256);

export const agentruxConfig = defineConfigSchema(
  z
    .object({
      /** Topic the gateway takes `openclaw.request` events from. */
      commandTopicId: topicId.optional(),
      /** Topic the gateway publishes `openclaw.response` events to. */
      resultTopicId: topicId.optional(),
      /** Agent that handles inbound requests. */
      agentId: z.string().min(1).max(128).optional(),
      /** AgenTrux API base URL. */
      baseUrl: z.url({ protocol: /^https?$/ }).default(DEFAULT_BASE_URL),
      /** Safety poll interval; SSE hints make delivery faster than this. */
      pollIntervalMs: z.number().int().min(1000).max(3_600_000).default(DEFAULT_POLL_INTERVAL_MS),
      /** Requests handled at once; more wait their turn. */
      maxConcurrency: z.number().int().min(1).max(64).default(DEFAULT_MAX_CONCURRENCY),
      /** A request's agent turn is abandoned (and answered `failed`) after this long. */
      subagentTimeoutMs: z.number().int().min(1000).max(3_600_000).default(DEFAULT_SUBAGENT_TIMEOUT_MS),
      /**
       * Which AgenTrux API the broker speaks: `seed` (plugin 0.14.5), `live` (1.1.0's control
       * plane: act_ codes, /oauth/token) or `auto` (from the credentials, code and topic ids).
       */
      apiGeneration: z.enum(["auto", "seed", "live"]).default("auto"),
      /** Which shell commands inbound requests may have the agent run. */
      execPolicy: z
        .object({
          enabled: z.boolean().default(false),
          /** Regex patterns, each matching a whole command (seed 000). */
          allowedCommands: z
            .array(
              z
                .string()
                .min(1)
                .max(1024)
                .superRefine((p, ctx) => {
                  try {
                    compileAllowed([p]);
                  } catch (err) {
                    ctx.addIssue({ code: "custom", message: (err as Error).message });
                  }
                }),
            )
            .max(200)
            .default([]),
        })
        .strict()
        .default({ enabled: false, allowedCommands: [] }),
    })
    .strict(),
);

export type AgentruxConfig = z.infer<typeof agentruxConfig.schema>;
