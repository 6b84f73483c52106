import { promises as fs } from "node:fs";
import path from "node:path";
import { errorMessage, writeJsonAtomic } from "@openclaw-bundle/shared";
import { z } from "zod";
import { USER_AGENT } from "./client.ts";
import { LIVE_CODE } from "./generation.ts";

/**
 * The one-shot activation ritual of EXTERNAL-APIS.md section 1, in `~/.agentrux/` (0700):
 * BOOTSTRAP.md holds a code; exactly one claimer (an exclusive hard link to BOOTSTRAP.md.inflight)
 * calls `/auth/activate`, once. 200 -> credentials.json (0600, atomic); 4xx -> the file is kept
 * as BOOTSTRAP.md.failed-<stamp> with a .json sidecar; 5xx or no answer -> back to BOOTSTRAP.md for
 * the next start. An `act_` code (the live service, plugin 1.1.0) is redeemed at
 * `/auth/redeem-activation-code` for an OAuth client instead (`client_id`, `client_secret`). A 200 spent the single-use code whatever its body says: without `grants` it is
 * a success (grants are the broker's business), and with a body lacking the credentials it is set
 * aside like a refusal (reason `unexpected-answer`), never sent again to earn a 409. A BOOTSTRAP.md next to live credentials is quarantined, never consumed; an
 * orphaned .inflight is left for a human. The code never appears in a log line or an error.
 */

/** A code of either generation (generation.ts): `ac_` (seed) or `act_` (live). */
export const CODE_PATTERN = /^act?_[A-Za-z0-9_-]{20,200}$/;
export const BOOTSTRAP = "BOOTSTRAP.md";
export const CREDENTIALS = "credentials.json";
const MAX_BOOTSTRAP_BYTES = 64 * 1024;

const credentialsSchema = z.object({
  script_id: z.string().min(1).max(256),
  client_secret: z.string().min(1).max(1024),
  grants: z
    .array(
      z.object({ grant_id: z.string().max(256), topic_id: z.string().max(256), action: z.string().max(32) }),
    )
    .max(1000)
    .optional(),
});
/** What /auth/redeem-activation-code answers (live generation). */
const redeemedSchema = z.object({
  client_id: z.string().min(1).max(256),
  client_secret: z.string().min(1).max(1024),
  script_id: z.string().min(1).max(256).optional(),
});
export type Credentials =
  | z.infer<typeof credentialsSchema>
  | (z.infer<typeof redeemedSchema> & { grants?: undefined });

/**
 * credentials.json as either plugin writes it: this bundle's `client_secret`, or the official
 * plugin's (0.14.5) `clientSecret`; `base_url` when the file names its broker.
 */
const storedCredentials = z
  .object({
    script_id: z.string().min(1).max(256).optional(),
    client_id: z.string().min(1).max(256).optional(),
    client_secret: z.string().min(1).max(1024).optional(),
    clientSecret: z.string().min(1).max(1024).optional(),
    base_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
  })
  .transform((c, ctx) => {
    const secret = c.client_secret ?? c.clientSecret;
    if (!secret) {
      ctx.addIssue({ code: "custom", message: "neither client_secret nor clientSecret is set" });
      return z.NEVER;
    }
    if (!c.script_id && !c.client_id) {
      ctx.addIssue({
        code: "custom",
        message: "neither script_id (seed API) nor client_id (live API) is set",
      });
      return z.NEVER;
    }
    return { script_id: c.script_id, client_id: c.client_id, client_secret: secret, base_url: c.base_url };
  });
export type StoredCredentials = z.output<typeof storedCredentials>;

/**
 * Reads `credentials.json` in `dir`: undefined when there is none; throws naming what is wrong
 * with one that is there (never its values).
 */
export async function readCredentials(dir: string): Promise<StoredCredentials | undefined> {
  let text: string;
  try {
    text = (await fs.readFile(path.join(dir, CREDENTIALS), "utf8")).slice(0, MAX_BOOTSTRAP_BYTES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${path.join(dir, CREDENTIALS)} is not JSON`);
  }
  const r = storedCredentials.safeParse(raw);
  if (!r.success)
    throw new Error(
      `${path.join(dir, CREDENTIALS)}: ${r.error.issues.map((i) => `${i.path.join(".") || "file"}: ${i.message}`).join("; ")}; expected script_id and client_secret (or clientSecret)`,
    );
  return r.data;
}

type ActivateAnswer =
  | { kind: "ok"; credentials: Credentials }
  | { kind: "refused"; status: number; code?: string; message?: string }
  | { kind: "transient"; detail: string };

export type Outcome =
  | { state: "activated"; scriptId: string }
  | { state: "credentials-present" }
  | { state: "no-bootstrap" }
  | { state: "claimed-elsewhere" }
  | { state: "quarantined"; file: string }
  | { state: "failed"; file: string; reason: string }
  | { state: "retry-later"; detail: string }
  /** Another claimer is activating right now, or a crash left it: never touched automatically. */
  | { state: "inflight-present"; file: string };

/**
 * `POST /auth/activate` (an `ac_` code, seed) or `POST /auth/redeem-activation-code` (an `act_`
 * code, live) against the broker; the answer bounded and checked.
 */
export async function postActivate(
  baseUrl: string,
  code: string,
  timeoutMs = 30_000,
): Promise<ActivateAnswer> {
  const live = LIVE_CODE.test(code);
  let res: Response;
  try {
    res = await fetch(
      `${baseUrl.replace(/\/+$/, "")}${live ? "/auth/redeem-activation-code" : "/auth/activate"}`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": USER_AGENT },
        body: JSON.stringify(live ? { code } : { activation_code: code }),
        signal: AbortSignal.timeout(timeoutMs),
      },
    );
  } catch (err) {
    return { kind: "transient", detail: `broker unreachable (${errorMessage(err)})` };
  }
  const text = (await res.text().catch(() => "")).slice(0, 256 * 1024);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status >= 500) return { kind: "transient", detail: `broker answered ${res.status}` };
  if (res.status >= 400) {
    const b = body as { error?: { code?: unknown; message?: unknown }; detail?: unknown } | undefined;
    // The seed's `{error: {code, message}}`, or the live service's `{detail: "..."}`.
    const message = typeof b?.error?.message === "string" ? b.error.message : b?.detail;
    return {
      kind: "refused",
      status: res.status,
      code: typeof b?.error?.code === "string" ? b.error.code.slice(0, 64) : undefined,
      message: typeof message === "string" ? message.slice(0, 500) : undefined,
    };
  }
  const parsed = (live ? redeemedSchema : credentialsSchema).safeParse(body);
  if (!parsed.success)
    return {
      kind: "refused",
      status: res.status,
      code: "unexpected-answer",
      message: `the broker answered 200 without ${live ? "client_id" : "script_id"} and client_secret; the code is probably spent`,
    };
  return { kind: "ok", credentials: parsed.data };
}

/**
 * credentials.json as written: the seed's fields plus `base_url` and `clientSecret`, which the
 * official plugin 0.14.5 reads, so one file serves both; the live service's as its plugin writes.
 */
function credentialsFile(c: Credentials, baseUrl: string | undefined, at: Date): Record<string, unknown> {
  const base = baseUrl ? { base_url: baseUrl.replace(/\/+$/, "") } : {};
  if ("client_id" in c) return { ...base, ...c, activated_at: at.toISOString() };
  return { ...c, ...base, clientSecret: c.client_secret, activated_at: at.toISOString() };
}

const exists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );

export function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

async function setAside(
  dir: string,
  from: string,
  kind: "failed" | "quarantined",
  sidecar: Record<string, unknown>,
  now: Date,
) {
  let name = `${BOOTSTRAP}.${kind}-${stamp(now)}`;
  for (let i = 1; await exists(path.join(dir, name)); i++) name = `${BOOTSTRAP}.${kind}-${stamp(now)}-${i}`;
  await fs.rename(path.join(dir, from), path.join(dir, name));
  await writeJsonAtomic(path.join(dir, `${name}.json`), sidecar, { mode: 0o600 });
  return name;
}

/**
 * The newest code set aside as refused (BOOTSTRAP.md.failed-<stamp> and its sidecar's reason):
 * a later start, or the host restarting the channel, finds no BOOTSTRAP.md and must still say why.
 */
export async function lastRefusal(dir: string): Promise<{ file: string; reason: string } | undefined> {
  const names = (await fs.readdir(dir).catch(() => [] as string[]))
    .filter((n) => /^BOOTSTRAP\.md\.failed-[0-9-]+$/.test(n))
    .sort();
  const file = names.at(-1);
  if (!file) return undefined;
  const sidecar = await fs.readFile(path.join(dir, `${file}.json`), "utf8").catch(() => "{}");
  let reason: unknown;
  try {
    reason = (JSON.parse(sidecar.slice(0, 64 * 1024)) as { reason?: unknown }).reason;
  } catch {
    reason = undefined;
  }
  return { file, reason: typeof reason === "string" ? reason.slice(0, 64) : "unknown" };
}

interface ActivationDeps {
  activate: (code: string) => Promise<ActivateAnswer>;
  /** Written into credentials.json as `base_url`, so the official plugin can use the file too. */
  baseUrl?: string;
  now?: () => Date;
}

/** Runs the ritual once; safe to call from several processes or services at the same time. */
export async function runActivation(dir: string, deps: ActivationDeps): Promise<Outcome> {
  const now = deps.now ?? (() => new Date());
  const bootstrap = path.join(dir, BOOTSTRAP);
  const inflight = path.join(dir, `${BOOTSTRAP}.inflight`);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const hasCreds = await exists(path.join(dir, CREDENTIALS));
  const hasBootstrap = await exists(bootstrap);
  if (hasCreds) {
    if (!hasBootstrap) return { state: "credentials-present" };
    const file = await setAside(
      dir,
      BOOTSTRAP,
      "quarantined",
      { reason: "creds-already-present", failed_at: now().toISOString() },
      now(),
    );
    return { state: "quarantined", file };
  }
  if (await exists(inflight)) return { state: "inflight-present", file: inflight };
  if (!hasBootstrap) return { state: "no-bootstrap" };
  // The claim: an exclusive hard link. Exactly one caller creates it; the others see EEXIST.
  try {
    await fs.link(bootstrap, inflight);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOENT") return { state: "claimed-elsewhere" };
    throw err;
  }
  await fs.rm(bootstrap, { force: true });

  const text = (await fs.readFile(inflight, "utf8")).slice(0, MAX_BOOTSTRAP_BYTES);
  const code = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("ac_") || l.startsWith("act_"));
  if (!code || !CODE_PATTERN.test(code)) {
    const reason = "invalid-format";
    const file = await setAside(
      dir,
      `${BOOTSTRAP}.inflight`,
      "failed",
      {
        reason,
        http_status: null,
        error_code: null,
        error_message: "no line holds a well-formed activation code",
        failed_at: now().toISOString(),
      },
      now(),
    );
    return { state: "failed", file, reason };
  }
  const answer = await deps
    .activate(code)
    .catch((err): ActivateAnswer => ({ kind: "transient", detail: errorMessage(err) }));
  if (answer.kind === "ok") {
    await writeJsonAtomic(
      path.join(dir, CREDENTIALS),
      credentialsFile(answer.credentials, deps.baseUrl, now()),
      { mode: 0o600 },
    );
    await fs.rm(inflight, { force: true });
    const c = answer.credentials;
    return { state: "activated", scriptId: c.script_id ?? ("client_id" in c ? c.client_id : "") };
  }
  if (answer.kind === "refused") {
    const reason = answer.code ?? `http-${answer.status}`;
    const file = await setAside(
      dir,
      `${BOOTSTRAP}.inflight`,
      "failed",
      {
        reason,
        http_status: answer.status,
        error_code: answer.code ?? null,
        error_message: answer.message ?? null,
        failed_at: now().toISOString(),
      },
      now(),
    );
    return { state: "failed", file, reason };
  }
  // Transient: hand the code back for the next start; never a second call now.
  await fs.rename(inflight, bootstrap);
  return { state: "retry-later", detail: answer.detail };
}
