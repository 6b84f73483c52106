import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatGroups, groupOf, groupSummary } from "./coverage.ts";

const ROOT = "/repo";
const file = (lines: [number, number], branches: [number, number] = [0, 0]) => ({
  lines: { total: lines[0], covered: lines[1], skipped: 0, pct: 0 },
  statements: { total: lines[0], covered: lines[1], skipped: 0, pct: 0 },
  functions: { total: 2, covered: 1, skipped: 0, pct: 50 },
  branches: { total: branches[0], covered: branches[1], skipped: 0, pct: 0 },
});

describe("coverage table", () => {
  it("groups by extension folder and package, ignoring anything else", () => {
    expect(groupOf("extensions/clawmatrix/src/tools.ts")).toBe("extensions/clawmatrix");
    expect(groupOf("packages/shared/src/index.ts")).toBe("packages/shared");
    expect(groupOf("scripts/coverage.ts")).toBeUndefined();
  });

  it("sums each group's counts, lists extensions before packages, worst files first", () => {
    const summary = {
      total: file([999, 1]),
      [path.join(ROOT, "packages/shared/src/a.ts")]: file([10, 10]),
      [path.join(ROOT, "extensions/mesh/src/good.ts")]: file([10, 9], [4, 4]),
      [path.join(ROOT, "extensions/mesh/src/none.ts")]: file([30, 0], [2, 0]),
      [path.join(ROOT, "extensions/mesh/src/small.ts")]: file([2, 0]),
      [path.join(ROOT, "test/mocks/x.ts")]: file([5, 0]),
    };
    const groups = groupSummary(summary, ROOT);
    expect(groups.map((g) => g.name)).toEqual(["extensions/mesh", "packages/shared"]);
    expect(groups[0]?.totals.lines).toEqual({ total: 42, covered: 9 });
    expect(groups[0]?.files.map((f) => f.file)).toEqual([
      "extensions/mesh/src/none.ts",
      "extensions/mesh/src/small.ts",
      "extensions/mesh/src/good.ts",
    ]);
    expect(formatGroups(groups, 2).split("\n")).toEqual([
      "FOLDER            LINES   STMTS  FUNCS  BRANCH",
      "extensions/mesh   21.4%   21.4%  50.0%   66.7%",
      "  src/none.ts      0.0%    0.0%  50.0%    0.0%",
      "  src/small.ts     0.0%    0.0%  50.0%  100.0%",
      "packages/shared  100.0%  100.0%  50.0%  100.0%",
      "  src/a.ts       100.0%  100.0%  50.0%  100.0%",
    ]);
  });
});
