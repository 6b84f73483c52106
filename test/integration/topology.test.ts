import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitResponse, brokerCalls, httpControl, publishRequest } from "../harness/agentrux.ts";
import { findNode24, openclawEntry } from "../harness/node24.ts";
import { Topology } from "../harness/topology.ts";
import { budget, waitFor } from "../harness/wait.ts";

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
  publicKey?: string;
  listen?: string | false;
}

const AGENTRUX = "agentrux-openclaw-plugin";
const topology = new Topology({ freePorts: true, env: {} });
const agentrux = () => httpControl(topology.broker?.url ?? "http://127.0.0.1:1");
let stopped = false;

beforeAll(async () => {
  await topology.start();
});

afterAll(async () => {
  if (!stopped) await topology.stop();
});

async function registeredHostnames(): Promise<string[]> {
  const res = await fetch(`${topology.registry?.url}/_control/registry/agents`);
  return ((await res.json()) as { agents: Array<{ hostname: string }> }).agents.map((x) => x.hostname);
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
      const mesh = await waitFor(
        `${n.name}: mesh running`,
        () => n.call<Status>("clawmatrix.status"),
        (s) => s.state === "running",
      );
      expect(mesh).toMatchObject({ enabled: true, state: "running" });
      // Each node proves an Ed25519 identity kept in its state volume (PROTOCOL §3b), and a local
      // topology's mesh listener is on loopback, not open to the LAN.
      expect(mesh.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
      if (mesh.listen !== false) expect(mesh.listen).toMatch(/^127\.0\.0\.1:\d+$/);
      // The lease service may still be acquiring right after /readyz.
      const lease = await waitFor(
        `${n.name}: lease running`,
        () => n.call<Status>("auth-manager-lease-telemetry.status"),
        (s) => s.state === "running",
      );
      expect(lease, JSON.stringify(lease)).toMatchObject({ enabled: true, state: "running" });
      leases.add(lease.leaseId as string);
      const registry = await waitFor(
        `${n.name}: registry running`,
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
    // The host's first sessions.list builds its index, and on a busy machine that can outlast the
    // host's own internal request timeout: an allowed call is retried until the host answers.
    const allowed = await waitFor(
      "node-b to run sessions_list for node-c",
      () => invoke("cluster_tool", { target: "node-b", tool: "sessions_list", args: {} }),
      (r) => !r.text.startsWith("error"),
      { ms: 60_000, intervalMs: 1000 },
    );
    expect(allowed.details).toMatchObject({ node: "node-b", truncated: false });
    expect(allowed.text).toContain("clawmatrix:node-c"); // the handoff's session on node-b
    const denied = await invoke("cluster_exec", { target: "node-b", command: "id" });
    expect(denied.text).toBe(
      `error MESH_ERR_TOOL_DENIED: node-b: tool "exec" is denied by node-b's toolProxy.deny`,
    );
    // File tools reach only node-b's workspace (PROTOCOL §7): resolved there, refused outside it.
    const outside = await invoke("cluster_read", { target: "node-b", path: "/etc/hostname" });
    expect(outside.text).toMatch(
      /^error MESH_ERR_OUTSIDE_WORKSPACE: node-b: path "\/etc\/hostname" resolves outside/,
    );
    const inside = await invoke("cluster_read", { target: "node-b", path: "no-such-file.txt" });
    expect(inside.text).not.toMatch(/OUTSIDE_WORKSPACE/);
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
        timeout: budget(90_000),
      },
    );
    expect(stdout).toContain("node node-c  state running");
    expect(stdout).toMatch(/^node-b\s+relay via node-a\s+[\d.]+ ms\s+office\s+main\s+mock-model$/m);
  });

  it("has node-b take a command from its AgenTrux topic and answer on its result topic", async () => {
    const s = await waitFor(
      "node-b: AgenTrux running",
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
    // A closed socket is noticed at once, not after missed heartbeats (10 s and more): the budget
    // is a quiet machine's 5 s, scaled only when the machine is busy.
    const seen = await waitFor(
      "node-c to see node-b unreachable",
      () => c.call<MeshStatus>("clawmatrix.status"),
      (s) => !s.peers.some((p) => p.nodeId === "node-b" && p.status !== "unreachable"),
      { ms: 5_000 },
    );
    expect(seen.peers.find((p) => p.nodeId === "node-b")?.status ?? "unreachable").toBe("unreachable");
    const r = await c.post("/tools/invoke", {
      tool: "cluster_handoff",
      args: { target: "tags:coding", task: "x" },
    });
    const j = (await r.json()) as { result: { content: Array<{ text: string }> } };
    expect(j.result.content[0]?.text).toMatch(
      /^error MESH_ERR_NO_CANDIDATE: no reachable node matches "tags:coding"/,
    );

    await b.start();
    const back = await waitFor(
      "node-c to reach node-b again through the relay",
      () => c.call<MeshStatus>("clawmatrix.status"),
      (s) => s.peers.some((p) => p.nodeId === "node-b" && p.status === "relay"),
    );
    expect(back.peers.find((p) => p.nodeId === "node-b")?.status).toBe("relay");
    // Back with the credentials it had: answers commands without activating again.
    await publishRequest(agentrux(), "node-b.commands", "topo-2", "after-restart");
    expect((await awaitResponse(agentrux(), "node-b.results", "topo-2", 90_000)).status).toBe("completed");
    expect((await brokerCalls(agentrux()))["POST /auth/activate"]).toBe(1);
  });

  it("stops each node on SIGTERM, every extension's stop doing what it is for", async () => {
    const broker = topology.broker;
    if (!broker) throw new Error("no mock broker");
    const a = topology.node("node-a");
    const meshPeersOfA = async () =>
      (await a.call<MeshStatus>("clawmatrix.status")).peers.map((p) => p.nodeId);
    // A fresh turn on node-c leaves usage pending (the topology flushes only every 10 calls and
    // on stop), so only node-c's stop can bring it to the broker.
    const turn = await topology.node("node-c").post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "before-stop" }],
    });
    expect(turn.status).toBe(200);
    const telemetryBefore = broker.lease.book.telemetry.length;
    expect(await meshPeersOfA()).toEqual(expect.arrayContaining(["node-b", "node-c"]));

    // node-c, then node-b, then node-a, each alone, so each effect is its own node's.
    for (const name of ["node-c", "node-b", "node-a"]) {
      const n = topology.node(name);
      const r = await n.stop();
      expect(r.signal, `${name} exited by itself, not SIGKILLed`).toBeNull();
      expect(n.child?.pid && processGroupAlive(n.child.pid)).toBeFalsy();
      // agent-registry: the entry is gone from the registry.
      expect((await registeredHostnames()).includes(name), `${name} deregistered`).toBe(false);
      if (name !== "node-a") {
        // clawmatrix: the leave was announced; node-a drops the node at once instead of keeping it
        // as unreachable until its state expires (which is what a crash leaves behind).
        await waitFor(`node-a to drop ${name} from the mesh`, meshPeersOfA, (ids) => !ids.includes(name), {
          ms: 5_000,
        });
        expect(logOf("node-a")).toContain(`node ${name} left the mesh`);
      }
      if (name === "node-c") {
        // auth-manager-lease-telemetry: node-c's pending usage reached the broker.
        expect(broker.lease.book.telemetry.length).toBeGreaterThan(telemetryBefore);
      }
      if (name === "node-b") {
        // agentrux: the waterline on disk covers the last command, so a restart redoes nothing.
        const commands = (await agentrux()("/topics/node-b.commands/events")) as {
          items: Array<{ sequence_no: number }>;
        };
        const last = Math.max(...commands.items.map((e) => e.sequence_no));
        const saved = JSON.parse(
          readFileSync(path.join(n.home, ".agentrux/waterline.json"), "utf8"),
        ) as Record<string, number>;
        expect(Object.values(saved)).toContain(last);
      }
    }
    stopped = true;
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
