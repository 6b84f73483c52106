import { z } from "zod";
import { BundleError, SHARED_CODES } from "./errors.ts";
import { isSecretKey } from "./redact.ts";

export interface ConfigSchemaDefinition<T> {
  schema: z.ZodType<T>;
  /** Parses and applies defaults; throws CONFIG_ERR_INVALID whose `details.problems` names each bad key. */
  parse(input: unknown, where: string): T;
  safeParse(
    input: unknown,
    where: string,
  ): { ok: true; value: T } | { ok: false; problems: string[]; message: string };
  /** The JSON Schema for `openclaw.plugin.json`: input shape, defaults included, no unknown keys. */
  jsonSchema(): Record<string, unknown>;
}

type PathKey = PropertyKey;

function pathText(path: readonly PathKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out || "(root)";
}

function valueAt(input: unknown, path: readonly PathKey[]): unknown {
  let cur: unknown = input;
  for (const k of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Shows the bad value when that is safe and short; never for a key that may hold a secret. */
function shownValue(input: unknown, path: readonly PathKey[]): string {
  if (path.some((k) => typeof k === "string" && isSecretKey(k))) return "";
  const v = valueAt(input, path);
  if (v === undefined || (typeof v === "object" && v !== null)) return "";
  const text = JSON.stringify(v);
  return text.length <= 80 ? ` (got ${text})` : ` (got ${text.slice(0, 77)}...)`;
}

/** One line per problem, each naming the key path and what is expected. */
function describeIssues(error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const where = issue.path.length ? `${pathText(issue.path)}: ` : "";
      return `${where}unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    }
    return `${pathText(issue.path)}: ${issue.message}${shownValue(input, issue.path)}`;
  });
}

/**
 * Wraps a zod object schema as the single source of an extension's config: the runtime parser
 * with defaults, and the manifest's JSON Schema (so the two cannot disagree).
 */
export function defineConfigSchema<S extends z.ZodType>(schema: S): ConfigSchemaDefinition<z.output<S>> {
  const safeParse = (input: unknown, where: string) => {
    const r = schema.safeParse(input ?? {});
    if (r.success) return { ok: true as const, value: r.data as z.output<S> };
    const problems = describeIssues(r.error, input);
    return { ok: false as const, problems, message: `invalid ${where} config: ${problems.join("; ")}` };
  };
  return {
    schema: schema as unknown as z.ZodType<z.output<S>>,
    safeParse,
    parse(input, where) {
      const r = safeParse(input, where);
      if (r.ok) return r.value;
      throw new BundleError(SHARED_CODES.CONFIG_INVALID, r.message, { details: { problems: r.problems } });
    },
    jsonSchema() {
      const js = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
      delete js.$schema;
      return js;
    },
  };
}

/** Parses a comma-separated env list (`a, b,,c` -> [a, b, c]). */
export function parseList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
