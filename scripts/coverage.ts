import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Unit-test coverage per extension and package, for CI: runs `vitest run --project unit
 * --coverage` with this same node, then prints one line per extension folder and package (lines,
 * statements, functions, branches) and the five least-covered files of each. Exits with
 * Vitest's exit code. Extra arguments go to Vitest (e.g. a file filter).
 *
 *   node scripts/coverage.ts
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SUMMARY = path.join(ROOT, "coverage", "coverage-summary.json");
export const METRICS = ["lines", "statements", "functions", "branches"] as const;
export const WORST_FILES = 5;

type Metric = (typeof METRICS)[number];
export interface Count {
  total: number;
  covered: number;
}
export type FileSummary = Record<Metric, Count>;
export interface Group {
  /** `extensions/<name>` or `packages/<name>`. */
  name: string;
  totals: FileSummary;
  files: Array<{ file: string; summary: FileSummary }>;
}

/** Percentage of a count; a file with nothing to count (no branches) counts as fully covered. */
export const pct = (c: Count): number => (c.total === 0 ? 100 : (c.covered / c.total) * 100);

/** `extensions/<name>` or `packages/<name>` of a repo-relative path; undefined for anything else. */
export function groupOf(relative: string): string | undefined {
  const m = /^(extensions|packages)\/([^/]+)\//.exec(relative.split(path.sep).join("/"));
  return m ? `${m[1]}/${m[2]}` : undefined;
}

const empty = (): FileSummary => ({
  lines: { total: 0, covered: 0 },
  statements: { total: 0, covered: 0 },
  functions: { total: 0, covered: 0 },
  branches: { total: 0, covered: 0 },
});

/**
 * Groups Istanbul's json-summary (absolute file paths, plus `total`) by extension and package:
 * extensions first, then packages, each by name; files worst first by lines, then by how many
 * lines they leave uncovered.
 */
export function groupSummary(summary: Record<string, unknown>, root: string): Group[] {
  const groups = new Map<string, Group>();
  for (const [file, raw] of Object.entries(summary)) {
    if (file === "total") continue;
    const relative = path.relative(root, file).split(path.sep).join("/");
    const name = groupOf(relative);
    if (!name) continue;
    const g = groups.get(name) ?? { name, totals: empty(), files: [] };
    groups.set(name, g);
    const s = empty();
    for (const m of METRICS) {
      const c = (raw as Partial<Record<Metric, Partial<Count>>>)[m];
      s[m] = { total: c?.total ?? 0, covered: c?.covered ?? 0 };
      g.totals[m].total += s[m].total;
      g.totals[m].covered += s[m].covered;
    }
    g.files.push({ file: relative, summary: s });
  }
  const uncovered = (s: FileSummary) => s.lines.total - s.lines.covered;
  for (const g of groups.values())
    g.files.sort(
      (a, b) =>
        pct(a.summary.lines) - pct(b.summary.lines) ||
        uncovered(b.summary) - uncovered(a.summary) ||
        a.file.localeCompare(b.file),
    );
  const rank = (n: string) => (n.startsWith("extensions/") ? 0 : 1);
  return [...groups.values()].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

const fmt = (c: Count) => `${pct(c).toFixed(1)}%`;

/** The table: one line per group, then its least-covered files, indented. */
export function formatGroups(groups: Group[], worst = WORST_FILES): string {
  const rows: string[][] = [["FOLDER", "LINES", "STMTS", "FUNCS", "BRANCH"]];
  for (const g of groups) {
    rows.push([g.name, ...METRICS.map((m) => fmt(g.totals[m]))]);
    for (const f of g.files.slice(0, worst))
      rows.push([`  ${f.file.slice(g.name.length + 1)}`, ...METRICS.map((m) => fmt(f.summary[m]))]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  return rows
    .map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))))
    .map((r) => r.join("  "))
    .join("\n");
}

function runVitest(args: string[]): Promise<number> {
  const vitest = path.join(ROOT, "node_modules", ".bin", "vitest");
  // The same node for Vitest and for what the tests spawn through `node` on PATH (the Pilot stand-in).
  const PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`;
  const child = spawn(process.execPath, [vitest, "run", "--project", "unit", "--coverage", ...args], {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, PATH },
  });
  return new Promise((resolve) => {
    child.once("error", (err) => {
      console.error(`could not run ${vitest}: ${err.message}`);
      resolve(1);
    });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  rmSync(SUMMARY, { force: true });
  const code = await runVitest(process.argv.slice(2));
  if (!existsSync(SUMMARY)) {
    console.error(`no ${path.relative(ROOT, SUMMARY)}: Vitest exited ${code} without writing coverage`);
    process.exit(code || 1);
  }
  const summary = JSON.parse(readFileSync(SUMMARY, "utf8")) as Record<string, unknown>;
  console.log(`\nUnit coverage per extension and package (${WORST_FILES} least-covered files each)\n`);
  console.log(formatGroups(groupSummary(summary, ROOT)));
  process.exit(code);
}
