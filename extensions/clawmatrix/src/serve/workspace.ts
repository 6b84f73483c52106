import { realpath } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { meshError } from "../mesh/requests.ts";

/**
 * PROTOCOL §7 `tool`: the file tools a mesh peer may run reach only the serving gateway's
 * workspace. Every path argument is resolved here, `..` and symlinks included, against the real
 * path of the workspace; one that lands outside is refused with `OUTSIDE_WORKSPACE`, and the
 * gateway is handed the resolved absolute path, so the path checked is the path used (the
 * gateway's own rewriting of `~`, `@` and `file://` never sees a peer's text).
 */

/** The gateway's file tools (openclaw core-coding-tools) and the arguments that name paths. */
const PATH_ARGS: Record<string, { keys: string[]; required: boolean }> = {
  read: { keys: ["path", "file_path"], required: true },
  write: { keys: ["path", "file_path"], required: true },
  edit: { keys: ["path", "file_path"], required: true },
  ls: { keys: ["path"], required: false },
  find: { keys: ["path"], required: false },
  grep: { keys: ["path"], required: false },
};
/** apply_patch names its files inside the patch text, one header line each. */
const PATCH_HEADER = /^(\*\*\* (?:Add File|Update File|Delete File|Move to): )(.*)$/gm;
const MAX_PATH_CHARS = 4096;

/**
 * The default agent's workspace as the gateway resolves it (openclaw resolveAgentWorkspaceDir,
 * mirrored: the SDK module that exports it takes seconds to load): the agent's own `workspace`,
 * else `agents.defaults.workspace`, else OPENCLAW_WORKSPACE_DIR, `$OPENCLAW_STATE_DIR/workspace`,
 * `~/.openclaw/workspace`.
 */
export function workspaceOf(hostConfig: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const agents = (
    hostConfig as { agents?: { list?: unknown; defaults?: { workspace?: unknown } } } | undefined
  )?.agents;
  const list = Array.isArray(agents?.list)
    ? (agents.list as Array<{ default?: unknown; workspace?: unknown }>)
    : [];
  const main = list.find((a) => a?.default === true) ?? list[0];
  const home = env.HOME?.trim() || os.homedir();
  const user = (p: string) => path.resolve(p === "~" || p.startsWith("~/") ? path.join(home, p.slice(1)) : p);
  for (const w of [main?.workspace, agents?.defaults?.workspace, env.OPENCLAW_WORKSPACE_DIR])
    if (typeof w === "string" && w.trim()) return user(w.trim());
  const state = env.OPENCLAW_STATE_DIR?.trim();
  return state ? path.join(user(state), "workspace") : path.join(home, ".openclaw", "workspace");
}

export function isFileTool(tool: string): boolean {
  return tool in PATH_ARGS || tool === "apply_patch";
}

function outside(requested: string, why: string): Error {
  return meshError("OUTSIDE_WORKSPACE", `path ${JSON.stringify(requested.slice(0, 200))} ${why}`);
}

/** The real path of an existing prefix of `p`, with the rest (not yet created) appended. */
async function realOfExisting(p: string): Promise<string> {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(await realpath(cur), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      const parent = path.dirname(cur);
      if (parent === cur) throw err;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * `requested` (relative to the workspace, or absolute) as a real absolute path inside `root`
 * (itself a real path), or an OUTSIDE_WORKSPACE error saying why.
 */
export async function confine(root: string, requested: string): Promise<string> {
  if (requested.length === 0) throw outside(requested, "is empty; expected a file path in the workspace");
  if (requested.length > MAX_PATH_CHARS) throw outside(requested, `is over ${MAX_PATH_CHARS} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f<>]/.test(requested))
    throw outside(requested, "has control characters or <>; expected a plain file path");
  if (/^(~|@|file:)/i.test(requested))
    throw outside(requested, "starts with ~, @ or file:; expected a path relative to the workspace");
  const real = await realOfExisting(path.resolve(root, requested));
  if (real !== root && !real.startsWith(root.endsWith(path.sep) ? root : `${root}${path.sep}`))
    throw outside(requested, `resolves outside the workspace of this node (to ${real})`);
  return real;
}

/**
 * The tool's arguments with every path confined to `workspace` (resolved, symlinks followed);
 * other tools' arguments unchanged. Throws OUTSIDE_WORKSPACE or BAD_REQUEST.
 */
export async function confineToolArgs(workspace: string, tool: string, args: unknown): Promise<unknown> {
  if (!isFileTool(tool)) return args;
  let root: string;
  try {
    root = await realpath(workspace);
  } catch (err) {
    throw meshError(
      "OUTSIDE_WORKSPACE",
      `this node's workspace ${workspace} is not usable (${(err as NodeJS.ErrnoException).code}); file tools are refused`,
    );
  }
  const a: Record<string, unknown> =
    args && typeof args === "object" && !Array.isArray(args) ? { ...(args as Record<string, unknown>) } : {};
  if (tool === "apply_patch") {
    if (typeof a.input !== "string")
      throw meshError("BAD_REQUEST", "apply_patch needs an input string (the patch)");
    const headers = [...a.input.matchAll(PATCH_HEADER)];
    const resolved = await Promise.all(headers.map((m) => confine(root, (m[2] ?? "").trim())));
    let i = 0;
    a.input = a.input.replace(PATCH_HEADER, (_all, head: string) => `${head}${resolved[i++]}`);
    return a;
  }
  const spec = PATH_ARGS[tool] as { keys: string[]; required: boolean };
  const present = spec.keys.filter((k) => a[k] !== undefined);
  for (const k of present) {
    if (typeof a[k] !== "string") throw meshError("BAD_REQUEST", `${tool}: ${k} must be a string`);
    a[k] = await confine(root, a[k] as string);
  }
  // Globs stay below the directory they search: find's pattern, grep's glob.
  const glob = tool === "find" ? "pattern" : tool === "grep" ? "glob" : undefined;
  const g = glob ? a[glob] : undefined;
  if (typeof g === "string" && (g.startsWith("/") || g.startsWith("~") || /(^|[/\\])\.\.([/\\]|$)/.test(g)))
    throw outside(
      g,
      `(${tool}'s ${glob}) leaves the searched directory; expected a glob without .. or a leading /`,
    );
  if (present.length === 0) {
    if (spec.required) throw meshError("BAD_REQUEST", `${tool} needs a path`);
    // The gateway's default directory is not ours to assume: name the workspace explicitly.
    a.path = root;
  }
  return a;
}
