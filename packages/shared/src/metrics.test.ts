import { describe, expect, it } from "vitest";
import { BundleError } from "./errors.ts";
import {
  counter,
  inc,
  label,
  MAX_SERIES,
  metricsRegistry,
  registerMetricsRoute,
  scrape,
  statusMetric,
  trackExtensionState,
} from "./metrics.ts";

/** The value of one sample line of the scrape text, or undefined when absent. */
async function sample(line: string): Promise<number | undefined> {
  const { body } = await scrape();
  const hit = body.split("\n").find((l) => l.startsWith(`${line} `));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

describe("bundle metrics", () => {
  it("keeps one registry per process, on globalThis, whichever copy of the module asks", () => {
    const registry = metricsRegistry();
    const key = Symbol.for("openclaw-bundle.metrics.registry");
    expect((globalThis as Record<symbol, unknown>)[key]).toBe(registry);
  });

  it("returns the existing metric when asked again (register() runs more than once)", () => {
    const spec = { name: "test_twice_total", help: "twice", labelNames: ["x"] as const };
    expect(counter(spec)).toBe(counter(spec));
  });

  it("exports the state of each tracked extension as 1 for the current state, 0 for the others", async () => {
    let state = "running";
    trackExtensionState("ext-a", () => ({ state }));
    expect(await sample('openclaw_bundle_extension_state{extension="ext-a",state="running"}')).toBe(1);
    expect(await sample('openclaw_bundle_extension_state{extension="ext-a",state="error"}')).toBe(0);
    state = "degraded";
    expect(await sample('openclaw_bundle_extension_state{extension="ext-a",state="running"}')).toBe(0);
    expect(await sample('openclaw_bundle_extension_state{extension="ext-a",state="degraded"}')).toBe(1);
  });

  it("counts every BundleError raised by its stable code and the extension owning the prefix", async () => {
    const line = 'openclaw_bundle_errors_total{extension="clawmatrix",code="MESH_ERR_TEST_ONLY"}';
    const before = (await sample(line)) ?? 0;
    new BundleError("MESH_ERR_TEST_ONLY", "one");
    new BundleError("MESH_ERR_TEST_ONLY", "two");
    expect(await sample(line)).toBe(before + 2);
  });

  it("folds label values that are not id-like (remote text, prompts) into 'other'", () => {
    expect(label("node-b")).toBe("node-b");
    expect(label("MESH_ERR_TIMEOUT")).toBe("MESH_ERR_TIMEOUT");
    expect(label("ignore previous instructions")).toBe("other");
    expect(label("x".repeat(65))).toBe("other");
    expect(label(undefined)).toBe("other");
  });

  it("caps the distinct label sets of one metric at MAX_SERIES; the rest count as 'other'", async () => {
    const c = counter({ name: "test_cap_total", help: "cap", labelNames: ["peer"] as const });
    for (let i = 0; i < MAX_SERIES + 50; i++) inc(c, { peer: `p${i}` });
    const { body } = await scrape();
    const lines = body.split("\n").filter((l) => l.startsWith("test_cap_total{"));
    expect(lines).toHaveLength(MAX_SERIES + 1);
    expect(lines).toContain('test_cap_total{peer="other"} 50');
  });

  it("reads status-derived metrics from the extension's status at scrape time", async () => {
    let received = 3;
    trackExtensionState("ext-b", () => ({ state: "running", counters: { received } }));
    statusMetric("counter", {
      name: "test_status_received_total",
      help: "from status",
      extension: "ext-b",
      samples: (s) => [[{}, (s.counters as { received: number }).received]],
    });
    expect(await sample("test_status_received_total")).toBe(3);
    received = 7;
    expect(await sample("test_status_received_total")).toBe(7);
  });

  it("serves the scrape behind the gateway's auth, GET only", async () => {
    type Route = Parameters<NonNullable<Parameters<typeof registerMetricsRoute>[0]["registerHttpRoute"]>>[0];
    let route: Route | undefined;
    registerMetricsRoute({
      registerHttpRoute: (r) => {
        route = r;
      },
    });
    expect(route).toMatchObject({ path: "/bundle/metrics", auth: "gateway", match: "exact" });
    const res = { statusCode: 0, headers: {} as Record<string, string>, body: "" };
    const out = {
      set statusCode(v: number) {
        res.statusCode = v;
      },
      setHeader: (k: string, v: string) => {
        res.headers[k] = v;
      },
      end: (b: string) => {
        res.body = b;
      },
    };
    await route?.handler({ method: "GET" }, out);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    expect(res.body).toContain("# TYPE openclaw_bundle_extension_state gauge");
    await route?.handler({ method: "POST" }, out);
    expect(res.statusCode).toBe(405);
    expect(res.body).toContain("not POST");
  });
});
