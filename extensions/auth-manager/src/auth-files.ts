import os from "node:os";
import path from "node:path";
import { writeJsonAtomic } from "@openclaw-bundle/shared";
import type { CodexAuthJson } from "./broker-client.ts";

/** Auth profile the leased credential is stored under (OpenClaw keeps Codex OAuth under `openai`). */
export const AUTH_PROFILE_ID = "openai:auth-manager-lease";

export function defaultCodexAuthPath(home = os.homedir()): string {
  return path.join(process.env.CODEX_HOME ?? path.join(home, ".codex"), "auth.json");
}

/** Codex reads `~/.codex/auth.json`; it holds live tokens, so 0600 in a 0700 directory, atomically. */
export async function writeCodexAuth(file: string, auth: CodexAuthJson): Promise<void> {
  await writeJsonAtomic(file, auth, { mode: 0o600, dirMode: 0o700 });
}

/** Expiry (ms) from a JWT's `exp` claim, without verifying it (the broker vouches for the token). */
function jwtExpiryMs(token: string | null | undefined): number | undefined {
  const part = token?.split(".")[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface OAuthProfileCredential {
  type: "oauth";
  provider: "openai";
  access: string;
  refresh: string;
  expires: number;
  accountId?: string;
  displayName: string;
}

/** The OpenClaw auth-profile credential for a leased Codex auth.json. */
export function toProfileCredential(auth: CodexAuthJson, fallbackExpiresMs: number): OAuthProfileCredential {
  const t = auth.tokens;
  return {
    type: "oauth",
    provider: "openai",
    access: t.access_token,
    refresh: t.refresh_token ?? "",
    expires: jwtExpiryMs(t.access_token) ?? fallbackExpiresMs,
    ...(t.account_id ? { accountId: t.account_id } : {}),
    displayName: "Auth Manager lease",
  };
}

/** Writes a profile into the host's auth store; injected so the service is testable without a gateway. */
export type ProfileWriter = (profileId: string, credential: OAuthProfileCredential) => Promise<boolean>;
