import { z } from "zod";

/**
 * Readers for single environment variables. Each returns the parsed value, or records one problem
 * line naming the variable, what is wrong and what is expected. A secret's value never appears in
 * a problem line: only its length or shape.
 */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Escapes control and line-separator characters, so a value quoted into a problem line (directly,
 * or inside a parser's error message) cannot split it and forge a line of its own.
 */
export function oneLine(text: string): string {
  return text.replace(/\p{Cc}|[\u2028\u2029]/gu, (c) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

export class EnvReader {
  readonly problems: string[] = [];
  /** Variables whose values are secrets: written to config as `${VAR}`, never shown. */
  readonly secrets = new Set<string>();

  readonly env: Env;

  constructor(env: Env) {
    this.env = env;
  }

  /** The trimmed value, or undefined when unset or blank. */
  raw(name: string): string | undefined {
    const v = this.env[name]?.trim();
    return v ? v : undefined;
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  problem(name: string, what: string, expected: string): undefined {
    this.problems.push(oneLine(`${name}: ${what}; expected ${expected}`));
    return undefined;
  }

  /** Quotes a non-secret value for a problem line, shortened. */
  static shown(value: string): string {
    const text = JSON.stringify(value);
    return text.length <= 60 ? text : `${text.slice(0, 57)}..."`;
  }

  private check<T>(name: string, value: string, schema: z.ZodType<T>, expected: string): T | undefined {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    return this.problem(name, `${EnvReader.shown(value)} is not valid`, expected);
  }

  string(name: string, opts: { pattern?: RegExp; max?: number; expected?: string } = {}): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    let schema = z.string().max(opts.max ?? 256);
    if (opts.pattern) schema = schema.regex(opts.pattern);
    return this.check(name, v, schema, opts.expected ?? `at most ${opts.max ?? 256} characters`);
  }

  /** A secret of at least `min` characters; the config gets `${name}` instead of the value. */
  secret(name: string, min = 16, why = ""): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    this.secrets.add(name);
    if (v.length < min)
      return this.problem(
        name,
        `the secret is ${v.length} characters long`,
        `at least ${min} characters${why ? ` (${why})` : ""}`,
      );
    if (/\s/.test(v)) return this.problem(name, "the secret contains whitespace", "no spaces or newlines");
    return `\${${name}}`;
  }

  url(name: string, protocols: readonly string[] = ["http", "https"]): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return this.problem(name, `${EnvReader.shown(v)} is not a URL`, `an ${protocols[0]}:// URL`);
    }
    const proto = u.protocol.replace(/:$/, "");
    if (!protocols.includes(proto))
      return this.problem(
        name,
        `${EnvReader.shown(v)} uses ${proto}://`,
        `one of ${protocols.map((p) => `${p}://`).join(", ")}`,
      );
    if (u.username || u.password)
      return this.problem(name, "the URL carries credentials", "a URL without user:password@");
    return v.replace(/\/+$/, "");
  }

  port(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return this.check(
      name,
      v,
      z
        .string()
        .regex(/^\d{1,5}$/)
        .transform(Number)
        .pipe(z.number().int().min(1).max(65535)),
      "an integer port 1-65535",
    );
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return this.check(
      name,
      v,
      z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max)),
      `an integer ${min}-${max}`,
    );
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return undefined;
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    return this.problem(name, `${EnvReader.shown(v)} is not a boolean`, "true or false");
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if ((values as readonly string[]).includes(v)) return v as T;
    return this.problem(name, `${EnvReader.shown(v)} is not allowed`, `one of ${values.join(", ")}`);
  }

  /** A comma-separated list of short names. */
  list(name: string, max = 64): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const items = v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.find((s) => !/^[A-Za-z0-9._:@/-]{1,64}$/.test(s));
    if (bad)
      return this.problem(
        name,
        `item ${EnvReader.shown(bad)} is not valid`,
        "comma-separated names of [A-Za-z0-9._:@/-]",
      );
    if (items.length > max) return this.problem(name, `${items.length} items`, `at most ${max}`);
    return items;
  }

  /** A JSON array whose items each satisfy `item`; the problem names the first bad item. */
  jsonArray<T>(name: string, item: z.ZodType<T>, example: string): T[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch (err) {
      return this.problem(name, `not valid JSON (${(err as Error).message})`, `a JSON array like ${example}`);
    }
    if (!Array.isArray(parsed))
      return this.problem(
        name,
        `a JSON ${parsed === null ? "null" : typeof parsed}`,
        `a JSON array like ${example}`,
      );
    const out: T[] = [];
    for (const [i, el] of parsed.entries()) {
      const r = item.safeParse(el);
      if (!r.success) {
        const issue = r.error.issues[0];
        const where = issue?.path.length ? `.${issue.path.join(".")}` : "";
        return this.problem(
          name,
          `item ${i}${where}: ${issue?.message ?? "invalid"}`,
          `a JSON array like ${example}`,
        );
      }
      out.push(r.data);
    }
    return out;
  }
}
