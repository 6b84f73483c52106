import fs from "node:fs";
import path from "node:path";
import { PilotError } from "./errors.ts";
import { writeFileAtomic } from "./files.ts";
import { goJson } from "./gojson.ts";

/**
 * `~/.pilot/inbox`, shared by the daemon (writes one file per message) and pilotctl (reads and
 * clears the folder itself, without asking the daemon: the real pilotctl does the same, so its
 * HOME must be the daemon's). Files and answers have the real programs' shape: type `TEXT` or
 * `JSON`, `received_at` in RFC 3339 seconds, the folder created with the first message; a listing
 * of an existing but empty folder is `messages: null` (Go's nil slice), of a missing one `[]`.
 */

export const inboxDir = (home: string) => path.join(home, ".pilot", "inbox");

export interface InboxFile {
  type: "TEXT" | "JSON";
  from: string;
  data: string;
  bytes: number;
  received_at: string;
}

/** RFC 3339 without fractions, as Go's time.RFC3339 formats a UTC time. */
export const rfc3339 = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Writes a message unless one with this delivery id is there (a re-delivery after a crash). The
 * name starts as the real daemon's (`TYPE-YYYYMMDD-HHMMSS.mmm`) so a listing sorts the same way.
 */
export function saveInboxMessage(home: string, id: string, msg: InboxFile, now = new Date()): boolean {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return false;
  const dir = inboxDir(home);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (fs.readdirSync(dir).some((n) => n.endsWith(`-${id}.json`))) return false;
  const stamp = now
    .toISOString()
    .replace(/^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/, "$1$2$3-$4$5$6.$7");
  writeFileAtomic(path.join(dir, `${msg.type}-${stamp}-${id}.json`), goJson(msg));
  return true;
}

/** `pilotctl inbox`: every parseable file, in name order. */
export function listInbox(home: string): Record<string, unknown> {
  const dir = inboxDir(home);
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { messages: [], total: 0 };
    throw new PilotError("internal", `read directory: ${(err as Error).message}`);
  }
  const messages: unknown[] = [];
  for (const name of names) {
    try {
      const file = path.join(dir, name);
      if (fs.statSync(file).isDirectory()) continue;
      messages.push(JSON.parse(fs.readFileSync(file, "utf8")));
    } catch {} // unreadable or not JSON (a tmp file mid-rename): skipped, as the real one does
  }
  return { messages: messages.length ? messages : null, total: messages.length, dir };
}

/** `pilotctl inbox --clear`: removes every file; a missing folder is `not_found`. */
export function clearInbox(home: string): { cleared: number } {
  const dir = inboxDir(home);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new PilotError("not_found", "inbox is empty");
    throw new PilotError("internal", `read directory: ${(err as Error).message}`);
  }
  let cleared = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory() !== false) continue;
    fs.rmSync(file, { force: true });
    cleared++;
  }
  return { cleared };
}
