/**
 * Which AgenTrux API a broker speaks (EXTERNAL-APIS.md section 1b): `seed`, the contract of the
 * 0.14.5 plugin (`/auth/activate` with `ac_` codes, `/auth/token` JSON, uuid topics), or `live`,
 * the service as of plugin 1.1.0 (`/auth/redeem-activation-code` with `act_` codes, `/oauth/token`
 * form client_credentials, `top_` topic ids). Chosen from what the setup says, in this order: the
 * config override, the credentials' shape (`client_id` is live, `script_id` alone is seed), the
 * activation code's prefix, the topic ids' prefix; seed when nothing says.
 */

export type Generation = "seed" | "live";
export type GenerationSetting = Generation | "auto";

export const SEED_CODE = /^ac_[A-Za-z0-9_-]{20,200}$/;
export const LIVE_CODE = /^act_[A-Za-z0-9_-]{20,200}$/;
const LIVE_TOPIC = /^top_/;

export interface GenerationClues {
  setting?: GenerationSetting;
  /** Parsed credentials.json, when there is one. */
  credentials?: { client_id?: string; script_id?: string };
  /** The activation code about to be used, when there is one. */
  code?: string;
  topicIds?: Array<string | undefined>;
}

/** The generation and what decided it (for the status and logs; never the code itself). */
export function detectGeneration(c: GenerationClues): { generation: Generation; because: string } {
  if (c.setting && c.setting !== "auto") return { generation: c.setting, because: "configured" };
  if (c.credentials?.client_id) return { generation: "live", because: "credentials hold a client_id" };
  if (c.credentials?.script_id) return { generation: "seed", because: "credentials hold a script_id only" };
  if (c.code && LIVE_CODE.test(c.code)) return { generation: "live", because: "activation code is act_" };
  if (c.code && SEED_CODE.test(c.code)) return { generation: "seed", because: "activation code is ac_" };
  if (c.topicIds?.some((t) => t !== undefined && LIVE_TOPIC.test(t)))
    return { generation: "live", because: "topic ids are top_" };
  return { generation: "seed", because: "nothing says otherwise" };
}
