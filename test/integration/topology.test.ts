import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitResponse, brokerCalls, httpControl, publishRequest } from "../harness/agentrux.ts";
import { findNode24, openclawEntry } from "../harness/node24.ts";
import { Topology } from "../harness/topology.ts";

const run = promisify(execFile);

// The `npm start` topology (docker-compose.yml's services as local processes, every node through
// entrypoint.sh), on free ports so it never collides with a running `npm start`.

interface MeshStatus {
  state: string;
  counters: { relayed: number; served: number };
  peers: Array<{ nodeId: string; status: string; via?: string }>;
}

interface Status {
  id: string;
  enabled: boolean;
  state: string;
  reason?: string;
  leaseId?: string;
}

const AGENTRUX = "agentrux-openclaw-plugin";
const topology = new Topology({ freePorts: true, env: {} });
const agentrux = () => httpControl(topology.broker?.url ?? "http://127.0.0.1:1");
let stopped = false;

beforeAll(async () => {
  await topology.start();
}, 240_000);

afterAll(async () => {
  if (!stopped) await topology.stop();
});

/** Calls `read` until `ok` holds or `ms` pass; returns the last answer either way. */
async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    v = await read();
  }
  return v;
}

function logOf(name: string): string {
  try {
    return readFileSync(topology.node(name).logFile, "utf8");
  } catch {
    return "";
  }
}

describe("npm start topology", () => {
  it("brings up node-a, node-b and node-c with every enabled extension healthy", async () => {
    expect(topology.nodes.map((n) => n.name)).toEqual(["node-a", "node-b", "node-c"]);
    const leases = new Set<string>();
    for (const n of topology.nodes) {
      // The entrypoint wrote the config from the compose env: secrets as references only.
      const config = readFileSync(n.configPath, "utf8");
      expect(config).toContain("${CLAWMATRIX_SECRET}");
      expect(config).not.toContain(n.token);
      // Dialing nodes may still be backing off while node-a's mesh port comes up.
      const mesh = await poll(
        () => n.call<Status>("clawmatrix.status"),
        (s) => s.state === "running",
      );
      expect(mesh).toMatchObject({ enabled: true, state: "running" });
      // The lease service may still be acquiring right after /readyz.
      const lease = await poll(
        () => n.call<Status>("auth-manager-lease-telemetry.status"),
        (s) => s.state === "running",
      );
      expect(lease, JSON.stringify(lease)).toMatchObject({ enabled: true, state: "running" });
      leases.add(lease.leaseId as string);
      const registry = await poll(
        () => n.call<Status>("agent-registry.status"),
        (s) => s.state === "running",
      );
      expect(registry, JSON.stringify(registry)).toMatchObject({
        enabled: true,
        state: "running",
        hostname: n.name,
      });
    }
    expect(leases.size).toBe(3); // one sticky lease per machine id
    // All three found each other's entries in the registry, by capability.
    const url = topology.registry?.url as string;
    const key = process.env.AGENT_REGISTRY_API_KEY ?? "registry-key-0123456789abcdef";
    const coding = (await (
      await fetch(`${url}/api/v1/agents/search?capabilities=coding`, { headers: { "x-registry-key": key } })
    ).json()) as { agents: Array<{ hostname: string }> };
    expect(coding.agents.map((a) => a.hostname).sort()).toEqual(["node-b", "node-c"]);
  });

  it("runs an agent turn on node-b through the model named by OPENCLAW_LLM_BASE_URL", async () => {
    const before = topology.llm?.requests.length ?? 0;
    const res = await topology.node("node-b").post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "topology-probe" }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]?.message.content).toContain("topology-probe");
    expect(topology.llm?.requests.length).toBeGreaterThan(before);
  });

  it("node-c answers with node-b's model through the relay at node-a, streaming and not", async () => {
    const c = topology.node("node-c");
    const before = topology.llm?.requests.length ?? 0;
    const res = await c.post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "relay-probe" }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]?.message.content).toContain("relay-probe");
    // node-c has no model of its own: the mock LLM was reached through the mesh.
    expect(topology.llm?.requests.length).toBeGreaterThan(before);
    const [a, b] = await Promise.all(
      ["node-a", "node-b"].map((n) => topology.node(n).call<MeshStatus>("clawmatrix.status")),
    );
    expect(a?.counters.relayed).toBeGreaterThan(0);
    expect(b?.counters.served).toBeGreaterThan(0);
    const cs = await c.call<MeshStatus>("clawmatrix.status");
    expect(cs.peers.find((p) => p.nodeId === "node-b")).toMatchObject({ status: "relay", via: "node-a" });

    const stream = await c.post("/v1/chat/completions", {
      model: "openclaw/default",
      stream: true,
      messages: [{ role: "user", content: "stream-probe" }],
    });
    const text = await stream.text();
    expect(text).toContain("data: ");
    expect(text).toContain("[DONE]");
    expect(text).toContain("stream-probe");
  });

  it("hands a task to tags:coding and runs node-b's tools under its policy", async () => {
    const c = topology.node("node-c");
    const invoke = async (tool: string, args: Record<string, unknown>) => {
      const r = await c.post("/tools/invoke", { tool, args });
      expect(r.status).toBe(200);
      const j = (await r.json()) as {
        result: { content: Array<{ text: string }>; details: Record<string, unknown> };
      };
      return { text: j.result.content[0]?.text ?? "", details: j.result.details };
    };
    const handoff = await invoke("cluster_handoff", { target: "tags:coding", task: "handoff-probe" });
    expect(handoff.details).toMatchObject({ node: "node-b" });
    expect(handoff.text).toContain("handoff-probe");
    const allowed = await invoke("cluster_tool", { target: "node-b", tool: "sessions_list", args: {} });
    expect(allowed.details).toMatchObject({ node: "node-b", truncated: false });
    expect(allowed.text).toContain("clawmatrix:node-c"); // the handoff's session on node-b
    const denied = await invoke("cluster_exec", { target: "node-b", command: "id" });
    expect(denied.text).toBe(
      `error MESH_ERR_TOOL_DENIED: node-b: tool "exec" is denied by node-b's toolProxy.deny`,
    );
    const off = await invoke("cluster_read", { target: "node-a", path: "/etc/hostname" });
    expect(off.text).toMatch(/tool proxy is off on node-a/);
  });

  it("prints the mesh as a table with `openclaw clawmatrix status`", async () => {
    const c = topology.node("node-c");
    const { stdout } = await run(
      findNode24(),
      [openclawEntry(), "clawmatrix", "status", "--url", c.wsUrl, "--token", c.token],
      {
        env: c.env,
        timeout: 90_000,
      },
    );
    expect(stdout).toContain("node node-c  state running");
    expect(stdout).toMatch(/^node-b\s+relay via node-a\s+[\d.]+ ms\s+office\s+main\s+mock-model$/m);
  });

  it("has node-b take a command from its AgenTrux topic and answer on its result topic", async () => {
    const s = await poll(
      () => topology.node("node-b").call<Status & { activation?: string }>(`${AGENTRUX}.status`),
      (v) => v.state === "running",
    );
    expect(s).toMatchObject({ enabled: true, state: "running", activation: "activated" });
    // The one-time code reached the extension through BOOTSTRAP.md only.
    const code = "ac_topology-node-b-0123456789abcdef"; // docker-compose.yml's default
    expect(readFileSync(topology.node("node-b").configPath, "utf8")).not.toContain(code);
    expect(logOf("node-b")).not.toContain(code);
    await publishRequest(agentrux(), "node-b.commands", "topo-1", "topology-command");
    const answer = await awaitResponse(agentrux(), "node-b.results", "topo-1");
    expect(answer).toMatchObject({ request_id: "topo-1", status: "completed" });
    expect(answer.message).toContain("topology-command");
    // Nodes without AgenTrux variables do not load it.
    await expect(topology.node("node-a").call(`${AGENTRUX}.status`)).rejects.toThrow();
  });

  it("marks a SIGKILLed node-b unreachable at once, fails clearly, and takes it back when it restarts", async () => {
    const b = topology.node("node-b");
    const c = topology.node("node-c");
    await b.kill();
    const t0 = Date.now();
    const seen = await poll(
      () => c.call<MeshStatus>("clawmatrix.status"),
      (s) => !s.peers.some((p) => p.nodeId === "node-b" && p.status !== "unreachable"),
      5_000,
    );
    const noticedMs = Date.now() - t0;
    expect(seen.peers.find((p) => p.nodeId === "node-b")?.status ?? "unreachable").toBe("unreachable");
    expect(noticedMs).toBeLessThan(5_000);
    const r = await c.post("/tools/invoke", {
      tool: "cluster_handoff",
      args: { target: "tags:coding", task: "x" },
    });
    const j = (await r.json()) as { result: { content: Array<{ text: string }> } };
    expect(j.result.content[0]?.text).toMatch(
      /^error MESH_ERR_NO_CANDIDATE: no reachable node matches "tags:coding"/,
    );

    await b.start();
    const back = await poll(
      () => c.call<MeshStatus>("clawmatrix.status"),
      (s) => s.peers.some((p) => p.nodeId === "node-b" && p.status === "relay"),
      30_000,
    );
    expect(back.peers.find((p) => p.nodeId === "node-b")?.status).toBe("relay");
    // Back with the credentials it had: answers commands without activating again.
    await publishRequest(agentrux(), "node-b.commands", "topo-2", "after-restart");
    expect((await awaitResponse(agentrux(), "node-b.results", "topo-2", 90_000)).status).toBe("completed");
    expect((await brokerCalls(agentrux()))["POST /auth/activate"]).toBe(1);
  });

  it("stops every node on SIGTERM within 10 s, each extension's stop running", async () => {
    const broker = topology.broker;
    if (!broker) throw new Error("no mock broker");
    // A fresh turn on node-c leaves usage pending (the topology flushes only every 10 calls and
    // on stop), so the stop below must flush it.
    const turn = await topology.node("node-c").post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "before-stop" }],
    });
    expect(turn.status).toBe(200);
    const telemetryBefore = broker.lease.book.telemetry.length;
    const results = await Promise.all(topology.nodes.map((n) => n.stop()));
    stopped = true;
    for (const r of results) {
      expect(r.ms).toBeLessThan(10_000);
      expect(r.signal).toBeNull(); // exited by itself, not SIGKILLed
    }
    for (const n of topology.nodes) {
      const log = logOf(n.name);
      expect(log, n.name).toContain("clawmatrix stopped");
      expect(log, n.name).toContain("auth-manager-lease-telemetry stopped");
      expect(n.child?.pid && processGroupAlive(n.child.pid)).toBeFalsy();
    }
    // node-c's pending usage was flushed by the lease extension's stop.
    expect(broker.lease.book.telemetry.length).toBeGreaterThan(telemetryBefore);
    await topology.stop();
  });
});

function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
