import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { registerRegistryMetrics } from "../extensions/agent-registry/src/metrics.ts";
import { registerAgentruxMetrics } from "../extensions/agentrux/src/metrics.ts";
import "../extensions/auth-manager/src/metrics.ts";
import "../extensions/clawmatrix/src/metrics.ts";
import { countError, metricsRegistry, trackExtensionState } from "../packages/shared/src/metrics.ts";

// The README's metrics table is what operators build dashboards from: every metric the bundle
// registers must be in it, with its type.

const README = readFileSync(path.join(import.meta.dirname, "..", "README.md"), "utf8");

describe("README metrics table", () => {
  it("documents every registered metric with its type", () => {
    trackExtensionState("any", () => ({ state: "running" }));
    countError("MESH_ERR_README_CHECK");
    registerAgentruxMetrics();
    registerRegistryMetrics();
    const metrics = metricsRegistry()
      .getMetricsAsArray()
      .map((m) => {
        const { name, type } = m as unknown as { name: string; type: string };
        return { name, type };
      })
      .filter((m) => !m.name.startsWith("test_"));
    expect(metrics.length).toBeGreaterThan(20);
    const rows = README.split("\n").filter((l) => l.startsWith("| `"));
    const missing = metrics.filter(
      ({ name, type }) => !rows.some((r) => r.startsWith(`| \`${name}\``) && r.includes(`| ${type} `)),
    );
    expect(missing).toEqual([]);
  });
});
