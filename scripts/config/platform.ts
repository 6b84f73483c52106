import { BUNDLE_EXTENSIONS } from "@openclaw-bundle/shared";
import { z } from "zod";
import { deletePath, getPath, isObj, type Obj, sameJson, setPath } from "./json-path.ts";
import type { Settings } from "./settings.ts";

/**
 * platform-config.json: the bundle's static patches, each group applied while its condition holds
 * and undone when it no longer does. What the bundle wrote is kept in an ownership record beside
 * openclaw.json (bundle-owned.json), so undoing removes only values the bundle set — a value the
 * user had set before, or changed since, is theirs and stays.
 */

const CONDITIONS = ["always", "serves-models", "a2a", ...BUNDLE_EXTENSIONS.map((e) => e.id)] as const;
const jsonValue: z.ZodType<unknown> = z.json();
const item = z.union([z.string(), z.number()]);
const addList = z.object({ $add: z.array(item) }).strict();
const dotPath = z.string().regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/);

export const platformConfigSchema = z
  .object({
    $comment: z.string().optional(),
    version: z.literal(1),
    /** Applied in this order; a later group wins over an earlier one. */
    groups: z.array(
      z
        .object({
          when: z.enum(CONDITIONS),
          $comment: z.string().optional(),
          /** Dot-path -> value; `{ "$add": [...] }` adds to a list and keeps the user's items. */
          set: z.record(dotPath, z.union([addList, jsonValue])),
        })
        .strict(),
    ),
  })
  .strict();
export type PlatformConfig = z.infer<typeof platformConfigSchema>;

/** bundle-owned.json: the values and list items the platform patches wrote into openclaw.json. */
export const ownedSchema = z
  .object({
    version: z.literal(1),
    set: z.record(dotPath, jsonValue),
    added: z.record(dotPath, z.array(item)),
  })
  .strict();
export type Owned = z.infer<typeof ownedSchema>;

export interface PlatformContext {
  extensionsDir: string;
  stateDir: string;
}

type Item = z.infer<typeof item>;

function substitute(value: unknown, ctx: PlatformContext): unknown {
  if (typeof value === "string")
    return value.replaceAll("{extensionsDir}", ctx.extensionsDir).replaceAll("{stateDir}", ctx.stateDir);
  if (Array.isArray(value)) return value.map((v) => substitute(v, ctx));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, ctx)]));
  return value;
}

function active(when: (typeof CONDITIONS)[number], s: Settings): boolean {
  if (when === "always") return true;
  if (when === "serves-models") return s.servesModels;
  if (when === "a2a") return s.a2a?.channel.enabled === true;
  return s.extensions[when].enabled;
}

/** What the groups whose condition holds (or all groups) want: plain values, and list items. */
function wanted(
  platform: PlatformConfig,
  ctx: PlatformContext,
  holds: (g: PlatformConfig["groups"][number]) => boolean,
) {
  const set = new Map<string, unknown>();
  const added = new Map<string, Item[]>();
  for (const group of platform.groups.filter(holds))
    for (const [key, raw] of Object.entries(group.set)) {
      const value = substitute(raw, ctx);
      if (isObj(value) && Array.isArray(value.$add)) {
        const items = added.get(key) ?? [];
        for (const i of value.$add as Item[]) if (!items.includes(i)) items.push(i);
        added.set(key, items);
      } else set.set(key, value);
    }
  return { set, added };
}

/**
 * A file written before the ownership record existed: everything the platform patches would
 * write counts as the bundle's (earlier versions wrote it on every boot while it applied), and
 * the bundle's extension folders under any other `.../extensions/` count as its own stale
 * load paths (a moved bundle directory).
 */
function assumedOwned(config: Obj, platform: PlatformConfig, ctx: PlatformContext): Owned {
  const all = wanted(platform, ctx, () => true);
  const added = Object.fromEntries(all.added);
  const paths = getPath(config, "plugins.load.paths");
  const folders = BUNDLE_EXTENSIONS.map((e) => e.folder).join("|");
  const stale = new RegExp(`/extensions/(${folders})/?$`);
  if (Array.isArray(paths))
    added["plugins.load.paths"] = [
      ...(added["plugins.load.paths"] ?? []),
      ...paths.filter((p): p is string => typeof p === "string" && stale.test(p)),
    ];
  return { version: 1, set: Object.fromEntries(all.set), added };
}

/** Applies the groups that hold, undoes what the bundle wrote for the others; returns the new record. */
export function applyPlatform(
  config: Obj,
  s: Settings,
  platform: PlatformConfig,
  ctx: PlatformContext,
  previous: Owned | undefined,
): Owned {
  const want = wanted(platform, ctx, (g) => active(g.when, s));
  const prev = previous ?? assumedOwned(config, platform, ctx);

  for (const [key, value] of Object.entries(prev.set))
    if (!want.set.has(key) && sameJson(getPath(config, key), value)) deletePath(config, key);
  for (const [key, items] of Object.entries(prev.added)) {
    const list = getPath(config, key);
    if (!Array.isArray(list)) continue;
    const keep = want.added.get(key) ?? [];
    const rest = list.filter((i) => keep.includes(i) || !items.includes(i));
    if (rest.length === list.length) continue;
    if (rest.length > 0) setPath(config, key, rest);
    else deletePath(config, key);
  }

  const next: Owned = { version: 1, set: {}, added: {} };
  for (const [key, value] of want.set) {
    if (key in prev.set || !sameJson(getPath(config, key), value)) next.set[key] = value;
    setPath(config, key, value);
  }
  for (const [key, items] of want.added) {
    const cur = getPath(config, key);
    const list = Array.isArray(cur) ? [...cur] : [];
    const mine = items.filter((i) => !list.includes(i) || prev.added[key]?.includes(i));
    for (const i of items) if (!list.includes(i)) list.push(i);
    setPath(config, key, list);
    if (mine.length > 0) next.added[key] = mine;
  }
  return next;
}
