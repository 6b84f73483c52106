import { DockerComposeEnvironment, type StartedDockerComposeEnvironment, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { awaitResponse, type BrokerControl, brokerCalls, publishRequest } from "../harness/agentrux.ts";
import { REPO_ROOT } from "../harness/node24.ts";
import { freePort } from "../harness/ports.ts";
import { budget, waitFor } from "../harness/wait.ts";
import { detectEngine, docker, mayskip, run } from "./docker.ts";

// The compose mesh from the real images (ARCHITECTURE "Test topology"): built from this checkout
// on the local stand-in base image, started with docker-compose.yml as users start it.

const engine = detectEngine();
const skip = mayskip(engine, "compose mesh in containers");

const TOKEN_C = "node-c-token-0123456789abcdef";
const PROJECT = `obtest${process.pid}`;
/** testcontainers names a compose container as compose does: v2 `node-b-1`, v1 `<project>_node-b_1`. */
const key = (service: string) => (engine.standaloneCompose ? `${PROJECT}_${service}_1` : `${service}-1`);
const NODES = ["node-a", "node-b", "node-c"];
// How long an agent's turn may take in the containers (a contact's answer, an AgenTrux command).
// Both return as soon as the answer is in, so generous bounds cost nothing when things work; the
// products' defaults (30 s, 120 s) were too short for a first turn in a fresh container on a
// loaded machine. The test's own waits scale with the load (budget()).
const CONTACT_S = 300;
const SUBAGENT_MS = 600_000;

describe.skipIf(skip)("compose mesh in containers", () => {
  let env: StartedDockerComposeEnvironment;
  const ports: Record<string, number> = {};
  const started = Date.now();
  let upMs = 0;

  beforeAll(async () => {
    for (const k of ["NODE_A_PORT", "NODE_B_PORT", "NODE_C_PORT", "NODE_A_MESH_PORT"])
      ports[k] = await freePort();
    let compose = new DockerComposeEnvironment(REPO_ROOT, "docker-compose.yml")
      .withProjectName(PROJECT)
      .withBuild()
      .withEnvironment({
        OPENCLAW_IMAGE: engine.baseImage,
        // Test images carry the Pilot stand-in: node-a and node-b talk over Pilot, node-c over
        // the registry's relay.
        PILOT_SOURCE: "standin",
        PILOT_REGISTRY: "mock-registry:8001",
        AGENT_REGISTRY_CONTACT_TIMEOUT_SECONDS: String(CONTACT_S),
        AGENTRUX_SUBAGENT_TIMEOUT_MS: String(SUBAGENT_MS),
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      })
      .withStartupTimeout(420_000);
    for (const n of NODES) compose = compose.withWaitStrategy(key(n), Wait.forHealthCheck());
    if (engine.standaloneCompose) compose = compose.withClientOptions({ executable: { standalone: true } });
    env = await compose.up();
    upMs = Date.now() - started;
    process.stdout.write(`compose mesh up and healthy in ${Math.round(upMs / 1000)} s (build included)\n`);
  }, 900_000);

  afterAll(async () => {
    if (!env) return;
    const stats = await docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}").catch(() => "");
    process.stdout.write(`container memory:\n${stats}\n`);
    await env.down({ removeVolumes: true, timeout: 30_000 });
  }, 120_000);

  const nodeC = (p: string, body: unknown) =>
    fetch(`http://127.0.0.1:${ports.NODE_C_PORT}${p}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN_C}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(budget(120_000)),
    });
  const name = (n: string) => env.getContainer(key(n)).getName().replace(/^\//, "");
  const peersOfC = async () => {
    const r = await nodeC("/tools/invoke", { tool: "cluster_peers", args: {} });
    const j = (await r.json()) as {
      result: { details: { peers: Array<{ nodeId: string; status: string }> } };
    };
    return j.result.details.peers;
  };

  it("starts every node warm: the image's compile cache of a start was seeded into its TMPDIR", async () => {
    const count = async (n: string, dir: string) =>
      Number((await docker("exec", name(n), "sh", "-c", `find ${dir} -type f | wc -l`)).trim());
    const shipped = await count("node-a", "/opt/openclaw-bundle/compile-cache");
    expect(shipped).toBeGreaterThan(1000); // the host's modules and the four extensions'
    for (const n of NODES) expect(await count(n, "/tmp/node-compile-cache")).toBeGreaterThanOrEqual(shipped);
  });

  it("answers on node-c with node-b's model across the relay, and hands off to tags:coding", async () => {
    const res = await nodeC("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "container-relay" }],
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain("container-relay");
    expect((await peersOfC()).find((p) => p.nodeId === "node-b")?.status).toBe("relay");
    const h = await nodeC("/tools/invoke", {
      tool: "cluster_handoff",
      args: { target: "tags:coding", task: "container-handoff" },
    });
    const j = (await h.json()) as {
      result: { content: Array<{ text: string }>; details: { node?: string } };
    };
    expect(j.result.details.node).toBe("node-b");
    expect(j.result.content[0]?.text).toContain("container-handoff");
  });

  // The broker's port is not published: control calls run inside its container.
  const brokerControl =
    (api: "agentrux" | "lease"): BrokerControl =>
    async (p, body) =>
      JSON.parse(
        await docker(
          "exec",
          name("mock-broker"),
          "node",
          "-e",
          `const [p, b] = process.argv.slice(1);
fetch("http://127.0.0.1:8080/_control/${api}" + p, b ? { method: "POST", headers: { "content-type": "application/json" }, body: b } : {})
  .then(async (r) => { if (!r.ok) throw new Error(r.status + " " + (await r.text())); process.stdout.write(await r.text()); })
  .catch((e) => { console.error(String(e)); process.exit(1); });`,
          p,
          body === undefined ? "" : JSON.stringify(body),
        ),
      );
  const broker = brokerControl("agentrux");

  it("answers an AgenTrux command on node-b's result topic, activated by the code from its env", async () => {
    await publishRequest(broker, "node-b.commands", "ctr-1", "container-command");
    const answer = await awaitResponse(broker, "node-b.results", "ctr-1", 180_000);
    expect(answer).toMatchObject({ request_id: "ctr-1", status: "completed" });
    expect(answer.message).toContain("container-command");
    const mode = await docker(
      "exec",
      name("node-b"),
      "stat",
      "-c",
      "%a",
      "/home/node/.agentrux/credentials.json",
    );
    expect(mode).toBe("600");
  });

  const TOKEN_A = "node-a-token-0123456789abcdef";
  const invokeOnA = async (args: Record<string, unknown>) => {
    const r = await fetch(`http://127.0.0.1:${ports.NODE_A_PORT}/tools/invoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN_A}`, "content-type": "application/json" },
      body: JSON.stringify({ tool: "agent_network", args }),
      // A contact answers within its own timeout; the request must outlast it.
      signal: AbortSignal.timeout(CONTACT_S * 1000 + budget(60_000)),
    });
    const j = (await r.json()) as { result: { content: Array<{ text: string }> } };
    return j.result.content.map((c) => c.text).join("\n");
  };
  const pilotNodeId = async (n: string) =>
    (
      JSON.parse(await docker("exec", name(n), "cat", "/home/node/.pilot/identity.json")) as {
        node_id: number;
      }
    ).node_id;

  it("finds agents in the registry and messages them: node-b over Pilot, node-c over the relay", async () => {
    const coding = await invokeOnA({ action: "search", capabilities: ["coding"] });
    expect(coding).toContain("node-b");
    expect(coding).toContain("node-c");
    expect(await invokeOnA({ action: "search", query: "node-b" })).toContain("node-b");
    const b = await invokeOnA({ action: "contact", hostname: "node-b", message: "container-pilot" });
    expect(b).toContain("over pilot");
    expect(b).toMatch(/node-b answered:[\s\S]*container-pilot/);
    const c = await invokeOnA({ action: "contact", hostname: "node-c", message: "container-relay-msg" });
    expect(c).toContain("over relay");
    expect(c).toMatch(/node-c answered:[\s\S]*container-relay-msg/);
  });

  it("keeps node-b's lease and AgenTrux credentials across docker restart and rejoins the mesh", async () => {
    const leaseFile = "/home/node/.openclaw/auth-manager/lease.json";
    const before = JSON.parse(await docker("exec", name("node-b"), "cat", leaseFile)) as { leaseId: string };
    const nodeIdBefore = await pilotNodeId("node-b");
    await docker("restart", "-t", "15", name("node-b"));
    await waitFor(
      "node-b healthy again and back in node-c's mesh view",
      async () => ({
        health: await docker("inspect", "-f", "{{.State.Health.Status}}", name("node-b")),
        viaRelay: (await peersOfC()).some((p) => p.nodeId === "node-b" && p.status === "relay"),
      }),
      (s) => s.health === "healthy" && s.viaRelay,
      { ms: 180_000, intervalMs: 2000 },
    );
    const after = JSON.parse(await docker("exec", name("node-b"), "cat", leaseFile)) as { leaseId: string };
    expect(after.leaseId).toBe(before.leaseId);
    expect((await peersOfC()).find((p) => p.nodeId === "node-b")?.status).toBe("relay");
    await publishRequest(broker, "node-b.commands", "ctr-2", "after-docker-restart");
    expect((await awaitResponse(broker, "node-b.results", "ctr-2", 180_000)).status).toBe("completed");
    expect((await brokerCalls(broker))["POST /auth/activate"]).toBe(1);
    // The Pilot identity lives in the .pilot volume: same node id, and messages reach it again.
    expect(await pilotNodeId("node-b")).toBe(nodeIdBefore);
    const again = await invokeOnA({ action: "contact", hostname: "node-b", message: "after-restart-pilot" });
    expect(again).toMatch(/node-b answered:[\s\S]*after-restart-pilot/);
  });

  it("stops node-c gracefully on docker stop, every extension's stop doing what it is for", async () => {
    const lease = brokerControl("lease");
    const reports = async () => ((await lease("/state")) as { telemetry: unknown[] }).telemetry.length;
    // A turn on node-c leaves usage pending (flushed every 10 calls and on stop).
    const turn = await nodeC("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: "container-before-stop" }],
    });
    expect(turn.status).toBe(200);
    const reportsBefore = await reports();
    const peersOfA = async () => {
      const r = await fetch(`http://127.0.0.1:${ports.NODE_A_PORT}/tools/invoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN_A}`, "content-type": "application/json" },
        body: JSON.stringify({ tool: "cluster_peers", args: {} }),
        signal: AbortSignal.timeout(budget(60_000)),
      });
      const j = (await r.json()) as { result: { details: { peers: Array<{ nodeId: string }> } } };
      return j.result.details.peers.map((p) => p.nodeId);
    };
    expect(await peersOfA()).toContain("node-c");

    await docker("stop", "-t", "30", name("node-c"));
    // Exit 0: the gateway finished its stop by itself (a SIGKILL after the grace gives 137).
    expect(await docker("inspect", "-f", "{{.State.ExitCode}}", name("node-c"))).toBe("0");
    // clawmatrix: the leave reached node-a, which dropped node-c at once (a crash would leave it
    // listed as unreachable until its state expires).
    await waitFor("node-a to drop node-c from the mesh", peersOfA, (ids) => !ids.includes("node-c"), {
      ms: 5_000,
    });
    const { stdout, stderr } = await run("docker", ["logs", name("node-a")]);
    expect(stdout + stderr).toContain("node node-c left the mesh");
    // agent-registry: node-c's entry is gone from the registry.
    const coding = await invokeOnA({ action: "search", capabilities: ["coding"] });
    expect(coding).toContain("node-b");
    expect(coding).not.toContain("node-c");
    // auth-manager-lease-telemetry: the pending usage reached the broker.
    expect(await reports()).toBeGreaterThan(reportsBefore);
  });
});
