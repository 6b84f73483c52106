import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/node24.ts";
import { useGateways } from "../harness/vitest-hooks.ts";
import { budget, waitFor } from "../harness/wait.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";
import { type MockRegistry, startMockRegistry } from "../mocks/registry/server.ts";

// Three real gateways and the mock Agent Registry (which is also the rendezvous of the Pilot
// stand-in): node-a and node-b talk over Pilot, node-c has no Pilot and is reached over the
// registry's HTTP relay. Each agent's turn is answered by the mock LLM.
const ID = "agent-registry";
const KEY = "registry-key-0123456789";
const PILOT_BIN = path.join(REPO_ROOT, "test/mocks/pilot/bin");
const sockets = mkdtempSync(path.join(os.tmpdir(), "ar-"));
// How long `contact` waits for the other agent's turn. It returns as soon as the answer is in, so
// a generous bound costs nothing when things work; a budget scaled once at start was too short
// when the load rose later (other agents' turns took minutes at a load of 18 on two cores).
const CONTACT_TIMEOUT_S = 300;
let llm: MockLlm;
let registry: MockRegistry;

beforeAll(async () => {
  llm = await startMockLlm({ name: "llm-ar" });
  registry = await startMockRegistry({ apiKey: KEY, offlineAfterMs: 30_000 });
});
afterAll(async () => {
  await registry?.close();
  await llm?.close();
});

const node = (name: string, capabilities: string[], pilot: boolean) => ({
  name,
  llmBaseUrl: llm.url,
  env: { AGENT_REGISTRY_API_KEY: KEY, PILOT_STANDIN_POLL_MS: "100" },
  extensions: {
    [ID]: {
      registryUrl: registry.url,
      registryApiKey: "${AGENT_REGISTRY_API_KEY}",
      hostname: name,
      description: `the ${name} test agent`,
      capabilities,
      heartbeatIntervalSeconds: 5,
      contactTimeoutSeconds: CONTACT_TIMEOUT_S,
      pollIntervalSeconds: 1,
      ...(pilot
        ? {
            pilot: {
              registry: new URL(registry.url).host,
              binDir: PILOT_BIN,
              socketPath: path.join(sockets, `${name}.sock`),
              port: 4000,
            },
          }
        : { transport: "relay" }),
    },
  },
  extra: { tools: { toolSearch: false } },
});

const gateways = useGateways(() => [
  node("node-a", ["review"], true),
  node("node-b", ["coding", "python"], true),
  node("node-c", ["coding", "ops"], false),
]);

interface Status {
  state: string;
  reason?: string;
  registration: { state: string; agentId: string | null; registrations: number; consecutiveFailures: number };
  transport: { inUse: string };
  pilot: { state: string; nodeId: number | null; restarts: number; pid: number | null };
  counters: Record<string, number>;
  lastInbound: { from: string; transport: string } | null;
}
const status = (name: string) => gateways.byName(name).call<Status>(`${ID}.status`);
const registered = async () =>
  (
    (await (await fetch(`${registry.url}/_control/registry/agents`)).json()) as {
      agents: Array<{ hostname: string; id: string; online: boolean; pilot_node_id: number | null }>;
    }
  ).agents;

/** Until `fn` gives a truthy answer, which it returns. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000) =>
  waitFor(what, fn, Boolean, { ms, intervalMs: 500 }) as Promise<T>;

/** Asks a gateway's agent something; the mock LLM calls `agent_network` when told to. */
async function ask(name: string, args: Record<string, unknown>): Promise<string> {
  const res = await gateways.byName(name).post(
    "/v1/chat/completions",
    {
      model: "openclaw/default",
      messages: [{ role: "user", content: `MOCK_TOOL_CALL agent_network ${JSON.stringify(args)}` }],
    },
    CONTACT_TIMEOUT_S * 1000 + budget(120_000),
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
  return body.choices[0]?.message.content ?? "";
}

describe("Agent Registry in real gateways", () => {
  it("registers all three, with Pilot node ids for the Pilot nodes", async () => {
    const agents = await until("three registrations", async () => {
      const a = await registered();
      return (
        a.length === 3 &&
        a.every((x) => x.online) &&
        a.filter((x) => x.pilot_node_id !== null).length === 2 &&
        a
      );
    });
    expect(agents.find((a) => a.hostname === "node-c")?.pilot_node_id).toBeNull();
    const b = await status("node-b");
    expect(b.state).toBe("running");
    expect(b.pilot.nodeId).toBeGreaterThan(0xffff);
    expect(b.transport.inUse).toBe("pilot");
    expect((await status("node-c")).transport.inUse).toBe("relay");
    expect(JSON.stringify(b)).not.toContain(KEY);
  });

  it("finds agents by text and by capability", async () => {
    const byText = await ask("node-a", { action: "search", query: "node-b test agent" });
    expect(byText).toContain("node-b");
    const byCap = await ask("node-a", { action: "search", capabilities: ["coding", "python"] });
    expect(byCap).toContain("node-b");
    expect(byCap).not.toContain("node-c");
    const coding = await ask("node-a", { action: "search", capabilities: ["coding"] });
    expect(coding).toContain("node-b");
    expect(coding).toContain("node-c");
  });

  it("A contacts B by hostname over Pilot; B answers in a session of its own for A", async () => {
    const answer = await ask("node-a", { action: "contact", hostname: "node-b", message: "ping-over-pilot" });
    expect(answer).toContain("sent to node-b over pilot");
    expect(answer).toMatch(/node-b answered:[\s\S]*ping-over-pilot/);
    const b = await status("node-b");
    expect(b.lastInbound).toMatchObject({ from: "node-a", transport: "pilot" });
    expect(b.counters.dispatched).toBeGreaterThanOrEqual(1);
    expect((await status("node-a")).counters.handshakesApproved ?? 0).toBe(0);
    expect(b.counters.handshakesApproved).toBe(1);
    const sessions = await gateways
      .byName("node-b")
      .call<{ sessions: Array<{ key: string }> }>("sessions.list", {});
    expect(sessions.sessions.map((s) => s.key).join(" ")).toMatch(/agent-registry[^ ]*node-a/);
  });

  it("A contacts C, which has no Pilot, over the registry's HTTP relay", async () => {
    const answer = await ask("node-a", { action: "contact", hostname: "node-c", message: "ping-over-relay" });
    expect(answer).toContain("sent to node-c over relay");
    expect(answer).toMatch(/node-c answered:[\s\S]*ping-over-relay/);
    expect((await status("node-c")).lastInbound).toMatchObject({ from: "node-a", transport: "relay" });
  });

  it("registers B again within three heartbeats after the registry forgets it", async () => {
    const before = (await status("node-b")).registration.registrations;
    const r = await fetch(`${registry.url}/_control/registry/forget`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostname: "node-b" }),
    });
    expect(r.status).toBe(200);
    expect((await registered()).some((a) => a.hostname === "node-b")).toBe(false);
    await until(
      "node-b back",
      async () => (await registered()).some((a) => a.hostname === "node-b"),
      3 * 5_000 + 2_000,
    );
    expect((await status("node-b")).registration.registrations).toBe(before + 1);
  });

  it("keeps running while the registry is down, and recovers", async () => {
    await fetch(`${registry.url}/_control/registry/down`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      // Long enough for a heartbeat to fail and be read back, however busy the machine is.
      body: JSON.stringify({ ms: budget(12_000) }),
    });
    const during = await until(
      "a failed heartbeat",
      async () => {
        const st = await status("node-a");
        return st.registration.consecutiveFailures > 0 && st;
      },
      15_000,
    );
    expect(during.state).toBe("degraded");
    expect((await fetch(`${gateways.byName("node-a").url}/readyz`)).status).toBe(200);
    await until(
      "recovery",
      async () => {
        const s = await status("node-a");
        return s.state === "running" && s.registration.consecutiveFailures === 0;
      },
      30_000,
    );
    const answer = await ask("node-a", { action: "contact", hostname: "node-b", message: "after-outage" });
    expect(answer).toMatch(/node-b answered:[\s\S]*after-outage/);
  });

  it("restarts a killed Pilot daemon with the same node id", async () => {
    const before = await status("node-b");
    // The status names the daemon's pid: a search by command line also finds the pilotctl calls
    // (`--socket` too), and once pids wrap one of them can sort first.
    const pid = before.pilot.pid;
    expect(pid).toBeTypeOf("number");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    expect(cmdline).toContain(path.join(sockets, "node-b.sock"));
    process.kill(Number(pid), "SIGKILL");
    const after = await until("pilot restarted", async () => {
      const s = await status("node-b");
      return s.pilot.restarts > before.pilot.restarts && s.pilot.state === "running" && s;
    });
    expect(after.pilot.nodeId).toBe(before.pilot.nodeId);
    const answer = await ask("node-a", { action: "contact", hostname: "node-b", message: "after-kill" });
    expect(answer).toMatch(/node-b answered:[\s\S]*after-kill/);
  });

  it("deregisters B when its gateway stops", async () => {
    await gateways.byName("node-b").stop();
    expect((await registered()).some((a) => a.hostname === "node-b")).toBe(false);
  });
});
