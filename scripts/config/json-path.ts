/** Dot-path access into plain JSON objects (openclaw.json), shared by the patchers. */

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function setPath(root: Obj, dotted: string, value: unknown): void {
  const keys = dotted.split(".");
  let cur = root;
  for (const k of keys.slice(0, -1)) {
    if (!isObj(cur[k])) cur[k] = {};
    cur = cur[k] as Obj;
  }
  cur[keys.at(-1) as string] = value;
}

export function getPath(root: Obj, dotted: string): unknown {
  let cur: unknown = root;
  for (const k of dotted.split(".")) cur = isObj(cur) ? cur[k] : undefined;
  return cur;
}

/** Deletes a key, then each parent object it leaves empty, keeping the first `keepDepth` levels. */
export function deletePath(root: Obj, dotted: string, keepDepth = 0): void {
  const keys = dotted.split(".");
  const chain: Obj[] = [root];
  for (const k of keys.slice(0, -1)) {
    const next = chain.at(-1)?.[k];
    if (!isObj(next)) return;
    chain.push(next);
  }
  delete chain.at(-1)?.[keys.at(-1) as string];
  for (let i = chain.length - 1; i > keepDepth; i--) {
    if (Object.keys(chain[i] as Obj).length > 0) break;
    delete chain[i - 1]?.[keys[i - 1] as string];
  }
}

/** Structural equality of JSON values (key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (isObj(a)) {
    if (!isObj(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return a === b;
}
