import { accessSync, constants, mkdirSync } from "node:fs";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { observabilityUrls } from "../../scripts/start-urls.ts";
import { REPO_ROOT } from "../harness/node24.ts";
import { findPrometheus, Prometheus } from "../harness/prometheus.ts";
import { Topology } from "../harness/topology.ts";
import { waitFor } from "../harness/wait.ts";

// The `npm start` topology (compiled extensions in real gateways) watched from outside: each
// node's scrape route, a real Prometheus scraping all three, and node-b killed mid-way.

const topology = new Topology({ freePorts: true, env: {} });
const MESH_SECRET = "topology-mesh-secret-0123456789"; // docker-compose.yml's default
const CI = process.env.CI === "true";

/** Why a tool-dependent test cannot run here, printed when it skips (never under CI=true). */
function unavailable(suite: string, reason: string | undefined): boolean {
  if (!reason) return false;
  if (!CI) process.stdout.write(`${suite}: skipped, ${reason}\n`);
  return !CI;
}

const PROMETHEUS = findPrometheus();
const promMissing = PROMETHEUS
  ? undefined
  : "no prometheus binary (apt-get install prometheus, or set PROMETHEUS_BIN)";
const itProm = unavailable("real Prometheus", promMissing) ? it.skip : it;
let prom: Prometheus | undefined;

/** Debian's chromium (or CHROMIUM_BIN), driven headless by playwright-core; no browser download. */
function findChromium(): string | undefined {
  for (const p of process.env.CHROMIUM_BIN ? [process.env.CHROMIUM_BIN] : ["/usr/bin/chromium"]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}
const CHROMIUM = findChromium();
const chromiumMissing = CHROMIUM
  ? undefined
  : "no chromium binary (apt-get install chromium, or set CHROMIUM_BIN)";
const itBrowser = unavailable("topology page in a browser", chromiumMissing) ? it.skip : it;
/** Where the screenshots go for a person to look at (gitignored). */
const OUTPUT = path.join(REPO_ROOT, "test-results", "observability");
let browser: Browser | undefined;
let page: Page | undefined;

beforeAll(async () => {
  await topology.start();
  // Ready for the checks once node-c reaches node-b through node-a.
  await waitFor(
    "node-c to reach node-b through the relay",
    () =>
      topology.node("node-c").call<{ peers: Array<{ nodeId: string; status: string }> }>("clawmatrix.status"),
    (s) => s.peers.some((p) => p.nodeId === "node-b" && p.status === "relay"),
  );
});

afterAll(async () => {
  await browser?.close();
  await prom?.stop();
  await topology.stop();
});

async function scrape(name: string, token?: string): Promise<Response> {
  const n = topology.node(name);
  return fetch(observabilityUrls(n.url, n.token).metrics, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
}

function sample(body: string, line: string): number | undefined {
  const hit = body.split("\n").find((l) => l.startsWith(`${line} `));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

/** N chat requests from node-c to node-b's model, through node-c's model proxy (one mesh request each). */
async function meshChats(n: number): Promise<void> {
  const port = topology.ports.get("node-c")?.get(19001);
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/node/node-b/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${MESH_SECRET}` },
      body: JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: `metrics-${i}` }] }),
      signal: AbortSignal.timeout(60_000),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.text();
  }
}

describe("observability of the three-node topology", () => {
  it("serves every extension's metrics at /bundle/metrics, only with the gateway's token", async () => {
    const a = topology.node("node-a");
    expect((await scrape("node-a")).status).toBe(401);
    expect((await scrape("node-a", "wrong-token-0123456789abcdef")).status).toBe(401);
    const res = await scrape("node-a", a.token);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const body = await res.text();
    // One registry across the compiled extensions (each inlines the shared code); node-a runs
    // three of them (its AgenTrux channel is disabled, so the host does not load it).
    for (const ext of ["clawmatrix", "agent-registry", "auth-manager-lease-telemetry"])
      expect(body, ext).toMatch(
        new RegExp(`openclaw_bundle_extension_state\\{extension="${ext}",state="\\w+"\\} 1`),
      );
    expect(sample(body, 'openclaw_bundle_extension_state{extension="clawmatrix",state="running"}')).toBe(1);
    expect(sample(body, 'clawmatrix_peer_up{peer="node-b"}')).toBe(1);
    expect(sample(body, 'clawmatrix_peer_up{peer="node-c"}')).toBe(1);
    expect(sample(body, 'clawmatrix_link_bytes_total{peer="node-b",direction="in"}')).toBeGreaterThan(0);
    // node-b runs the AgenTrux channel and Agent Registry: their metrics are on its page.
    const b = await (await scrape("node-b", topology.node("node-b").token)).text();
    expect(b).toContain("# TYPE agentrux_events_total counter");
    expect(b).toMatch(
      /openclaw_bundle_extension_state\{extension="agentrux-openclaw-plugin",state="\w+"\} 1/,
    );
    expect(b).toContain("# TYPE agent_registry_registrations_total counter");
    expect(
      sample(b, 'openclaw_bundle_extension_state{extension="auth-manager-lease-telemetry",state="running"}'),
    ).toBe(1);
  });

  itProm("a real Prometheus scrapes all three nodes and sees the requests sent", async () => {
    if (!PROMETHEUS) throw new Error(`CI=true and ${promMissing}`);
    const dir = path.join(topology.root, "prometheus");
    mkdirSync(dir, { recursive: true });
    prom = await Prometheus.start(
      PROMETHEUS,
      dir,
      topology.nodes.map((n) => ({ name: n.name, url: n.url, token: n.token })),
    );
    const up = await waitFor(
      "prometheus to scrape node-a, node-b and node-c",
      () => prom?.query("up") ?? [],
      (s) => s.length === 3 && s.every((x) => x.value === 1),
    );
    expect(up.map((s) => s.metric.node).sort()).toEqual(["node-a", "node-b", "node-c"]);

    const ok = 'clawmatrix_requests_total{kind="chat",outcome="ok"}';
    const relayed = "clawmatrix_frames_relayed_total";
    // Read after a scrape of the node's own current value, so "before" is what Prometheus holds.
    const direct = async (name: string, line: string) =>
      sample(await (await scrape(name, topology.node(name).token)).text(), line) ?? 0;
    const okBefore = await direct("node-c", ok);
    const relayedBefore = await direct("node-a", relayed);
    await waitFor(
      "prometheus to hold node-c's current request count",
      async () => (await prom?.valueOf(ok, "node-c")) ?? 0,
      (v) => v === okBefore,
    );
    const N = 3;
    await meshChats(N);
    const after = await waitFor(
      `prometheus to see node-c's ${N} mesh requests`,
      async () => (await prom?.valueOf(ok, "node-c")) ?? 0,
      (v) => v >= okBefore + N,
    );
    expect(after).toBe(okBefore + N);
    // Each request and its answer crossed node-a.
    const relays = await waitFor(
      "prometheus to see node-a relay them",
      async () => (await prom?.valueOf(relayed, "node-a")) ?? 0,
      (v) => v >= relayedBefore + 2 * N,
    );
    expect(relays).toBeGreaterThanOrEqual(relayedBefore + 2 * N);
    const count = await prom?.valueOf('clawmatrix_request_duration_seconds_count{kind="chat"}', "node-c");
    expect(count).toBeGreaterThanOrEqual(N);
    expect(await prom?.valueOf('clawmatrix_peer_up{peer="node-b"}', "node-c")).toBe(1);
  });

  itBrowser("node-a's topology page draws three nodes, their links and the relay", async () => {
    if (!CHROMIUM) throw new Error(`CI=true and ${chromiumMissing}`);
    const a = topology.node("node-a");
    // The shell itself carries nothing; without the token the data route refuses.
    expect((await fetch(`${a.url}/bundle/topology.json`)).status).toBe(401);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
    // The URL `npm start` prints for node-a.
    await page.goto(observabilityUrls(a.url, a.token).topology);
    await page.waitForSelector('[data-card="node-c"]');
    // The token left the address bar once read.
    expect(page.url()).not.toContain("token");
    const statuses = await page.$$eval("[data-node]", (els) =>
      els.map((e) => [e.getAttribute("data-node"), e.getAttribute("data-status")]),
    );
    expect(statuses.sort()).toEqual([
      ["node-a", "self"],
      ["node-b", "direct"],
      ["node-c", "direct"],
    ]);
    const links = await page.$$eval("[data-link]", (els) => els.map((e) => e.getAttribute("data-link")));
    expect(links.sort()).toEqual(["node-a|node-b", "node-a|node-c"]);
    const relay = await page.$eval('[data-relay="node-b|node-c"]', (e) => e.getAttribute("data-via"));
    expect(relay).toBe("node-a");
    const cardB = await page.textContent('[data-card="node-b"]');
    expect(cardB).toContain("mock-model"); // node-b's model
    expect(cardB).toContain("office"); // its tag
    expect(await page.textContent("#self")).toContain("mesh seen from node-a");
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, "topology-node-a.png"), fullPage: true });
  });

  it("kill node-b: its scrape target goes down and the others report it unreachable", async () => {
    await topology.node("node-b").kill();
    if (page) {
      // The page polls each second; a killed node's link closes at once (no heartbeat wait).
      await page.waitForSelector('[data-node="node-b"][data-status="unreachable"]', { timeout: 15_000 });
      expect(await page.getAttribute('[data-card="node-b"]', "class")).toContain("unreachable");
      expect(await page.$$("[data-relay]")).toHaveLength(0);
      await page.screenshot({ path: path.join(OUTPUT, "topology-node-b-down.png"), fullPage: true });
    }
    const seen = await waitFor(
      "node-a to report node-b unreachable",
      async () =>
        sample(
          await (await scrape("node-a", topology.node("node-a").token)).text(),
          'clawmatrix_peer_up{peer="node-b"}',
        ),
      (v) => v === 0,
      { ms: 10_000 },
    );
    expect(seen).toBe(0);
    if (!prom) return; // the Prometheus checks ran (or were skipped, saying why) above
    expect(
      await waitFor(
        "prometheus: up{node=node-b} = 0",
        async () => await prom?.valueOf("up", "node-b"),
        (v) => v === 0,
      ),
    ).toBe(0);
    for (const from of ["node-a", "node-c"])
      expect(
        await waitFor(
          `prometheus: ${from} reports node-b down`,
          async () => await prom?.valueOf('clawmatrix_peer_up{peer="node-b"}', from),
          (v) => v === 0,
        ),
      ).toBe(0);
  });
});
