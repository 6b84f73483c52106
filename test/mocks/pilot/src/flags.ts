/**
 * Go's `flag` package rules, which pilot-daemon's command line follows: `-name value`,
 * `-name=value`, `--name value` and `--name=value` are the same; parsing stops at `--` or at the
 * first argument that is not a flag; an undefined flag or a missing value is an error (the caller
 * prints usage and exits 2). Every flag here takes a value, as the daemon has no boolean flags.
 */

export interface FlagSpec {
  /** Shown in usage as `-name <arg>`. */
  arg: string;
  usage: string;
  default?: string;
}

export type FlagResult =
  | { ok: true; values: Map<string, string>; rest: string[] }
  | { ok: false; help: boolean; message: string };

export function parseGoFlags(argv: readonly string[], specs: Record<string, FlagSpec>): FlagResult {
  const values = new Map<string, string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === "h" || name === "help") return { ok: false, help: true, message: "" };
    if (!Object.hasOwn(specs, name))
      return { ok: false, help: false, message: `flag provided but not defined: -${name}` };
    if (eq >= 0) {
      values.set(name, body.slice(eq + 1));
      continue;
    }
    // Like Go, a value flag takes the next argument whatever it looks like.
    if (i + 1 >= argv.length) return { ok: false, help: false, message: `flag needs an argument: -${name}` };
    values.set(name, argv[++i] as string);
  }
  for (const [name, spec] of Object.entries(specs))
    if (!values.has(name) && spec.default !== undefined) values.set(name, spec.default);
  return { ok: true, values, rest: argv.slice(i) };
}

/** The usage text Go prints: one `-name arg` line and an indented description per flag. */
export function usage(program: string, specs: Record<string, FlagSpec>): string {
  const lines = [`Usage of ${program}:`];
  for (const [name, spec] of Object.entries(specs).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  -${name} ${spec.arg}`);
    lines.push(`    \t${spec.usage}${spec.default ? ` (default "${spec.default}")` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}
