import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Topology } from "../harness/topology.ts";

// The `npm start` topology (docker-compose.yml's services as local processes, every node through
// entrypoint.sh), on free ports so it never collides with a running `npm start`.

interface Status {
  id: string;
  enabled: boolean;
  state: string;
  reason?: string;
  leaseId?: string;
}

const topology = new Topology({ freePorts: true, env: {} });
let stopped = false;

beforeAll(async () => {
  await topology.start();
}, 240_000);

afterAll(async () => {
  if (!stopped) await topology.stop();
});

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
      const mesh = await n.call<Status>("clawmatrix.status");
      expect(mesh).toMatchObject({ enabled: true });
      expect(["idle", "running"]).toContain(mesh.state);
      // The lease service may still be acquiring right after /readyz.
      let lease = await n.call<Status>("auth-manager-lease-telemetry.status");
      for (let i = 0; i < 40 && lease.state !== "running"; i++) {
        await new Promise((r) => setTimeout(r, 250));
        lease = await n.call<Status>("auth-manager-lease-telemetry.status");
      }
      expect(lease, JSON.stringify(lease)).toMatchObject({ enabled: true, state: "running" });
      leases.add(lease.leaseId as string);
      // Extensions without their enabling variable are off and do not load at all.
      await expect(n.call("agent-registry.status")).rejects.toThrow();
    }
    expect(leases.size).toBe(3); // one sticky lease per machine id
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

  it("stops every node on SIGTERM within 10 s, each extension's stop running", async () => {
    const broker = topology.broker;
    if (!broker) throw new Error("no mock broker");
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
    // node-b's agent turn was pending telemetry: the lease extension's stop flushed it.
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
