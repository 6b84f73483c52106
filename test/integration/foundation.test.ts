import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXTENSION_IDS } from "../harness/gateway-config.ts";
import { freePort } from "../harness/ports.ts";
import { useGateways } from "../harness/vitest-hooks.ts";
import { budget, waitFor } from "../harness/wait.ts";
import { type MockLlm, startMockLlm } from "../mocks/llm/server.ts";

// Two real gateways with all four extensions loaded: "configured" has every extension configured
// (secrets through ${VAR} references, as the entrypoint writes them), "bare" has them all enabled
// with empty config, which must leave each one disabled with a reason.
const MESH_SECRET = "mesh-secret-0123456789abcdef";
const BROKER_TOKEN = "broker-token-abcdef0123456789";

let llm: MockLlm;
beforeAll(async () => {
  llm = await startMockLlm({ name: "llm-foundation", models: ["mock-model"] });
});
afterAll(async () => {
  await llm?.close();
});

const gateways = useGateways(async () => [
  {
    name: "configured",
    llmBaseUrl: llm.url,
    env: { CLAWMATRIX_SECRET: MESH_SECRET, AUTH_MANAGER_INTERNAL_API_TOKEN: BROKER_TOKEN },
    extensions: {
      clawmatrix: {
        nodeId: "node-x",
        secret: "${CLAWMATRIX_SECRET}",
        tags: ["review"],
        proxyPort: await freePort(),
      },
      "agentrux-openclaw-plugin": { commandTopicId: "t-cmd", resultTopicId: "t-res", agentId: "main" },
      "agent-registry": { registryUrl: "http://127.0.0.1:9", hostname: "node-x", capabilities: ["review"] },
      "auth-manager-lease-telemetry": {
        baseUrl: "http://127.0.0.1:9",
        internalApiToken: "${AUTH_MANAGER_INTERNAL_API_TOKEN}",
        machineId: "node-x",
      },
    },
  },
  {
    name: "bare",
    llmBaseUrl: llm.url,
    extensions: Object.fromEntries(EXTENSION_IDS.map((id) => [id, {}])),
  },
]);

interface Status {
  id: string;
  enabled: boolean;
  configured: boolean;
  state: string;
  reason?: string;
}

describe("foundation: four extensions in real gateways", () => {
  it("answers <id>.status for every configured extension", async () => {
    const g = gateways.byName("configured");
    for (const id of EXTENSION_IDS) {
      const s = await g.call<Status>(`${id}.status`);
      expect(s).toMatchObject({ id, enabled: true, configured: true });
      if (id === "clawmatrix") {
        // The mesh is real: a node with no peers to dial runs on its own.
        expect(s.state).toBe("running");
      } else if (id === "agentrux-openclaw-plugin") {
        // Configured but never activated: once the channel starts, degraded, saying how to
        // activate (no network call made).
        await expect
          .poll(async () => (await g.call<Status>(`${id}.status`)).state, { timeout: budget(30_000) })
          .toBe("degraded");
        expect((await g.call<Status>(`${id}.status`)).reason).toMatch(
          /no AgenTrux credentials.*BOOTSTRAP\.md/,
        );
      } else if (id === "auth-manager-lease-telemetry") {
        // The lease service is real: a broker that does not answer is a degraded state with a reason.
        const lease = await waitFor(
          "the lease to report the unreachable broker",
          () => g.call<Status>(`${id}.status`),
          (v) => v.state !== "idle",
        );
        expect(lease.state).toBe("degraded");
        expect(lease.reason).toMatch(/could not acquire a lease.*unreachable/);
      } else {
        // agent-registry: the channel is real: a registry that does not answer is a degraded state with a reason.
        await expect
          .poll(async () => (await g.call<Status>(`${id}.status`)).reason ?? "", { timeout: budget(30_000) })
          .toMatch(/registration failed/);
        expect((await g.call<Status>(`${id}.status`)).state).toBe("degraded");
      }
      // Secrets never leave the gateway through a status answer.
      expect(JSON.stringify(s)).not.toContain(MESH_SECRET);
      expect(JSON.stringify(s)).not.toContain(BROKER_TOKEN);
    }
  });

  it("reports each unconfigured extension as disabled and names what enables it", async () => {
    const g = gateways.byName("bare");
    const expected: Record<string, RegExp> = {
      clawmatrix: /CLAWMATRIX_SECRET/,
      "agentrux-openclaw-plugin": /AGENTRUX_COMMAND_TOPIC_ID/,
      "agent-registry": /AGENT_REGISTRY_URL/,
      "auth-manager-lease-telemetry": /AUTH_MANAGER_BASE_URL/,
    };
    for (const id of EXTENSION_IDS) {
      const s = await g.call<Status>(`${id}.status`);
      expect(s).toMatchObject({ id, enabled: false, state: "disabled" });
      expect(s.reason).toMatch(expected[id] as RegExp);
    }
  });

  it("refuses an invalid plugin config with a message naming the key", async () => {
    const g = gateways.byName("configured");
    const cases: Array<{ config: Record<string, unknown>; key: RegExp }> = [
      { config: { listenPort: "nineteen-thousand" }, key: /clawmatrix\.config\.listenPort/ },
      { config: { fooBar: true }, key: /fooBar/ },
      { config: { secret: "too-short" }, key: /clawmatrix\.config\.secret.*16/ },
    ];
    for (const c of cases) {
      const { hash } = await g.call<{ hash: string }>("config.get");
      const raw = JSON.stringify({ plugins: { entries: { clawmatrix: { config: c.config } } } });
      await expect(g.call("config.patch", { raw, baseHash: hash })).rejects.toThrow(c.key);
    }
    // The refused patches changed nothing: the mesh config still validates and answers.
    const s = await g.call<Status>("clawmatrix.status");
    expect(s.state).toBe("running");
  });

  it("runs an agent turn through /v1/chat/completions that reaches the mock LLM", async () => {
    const g = gateways.byName("configured");
    const phrase = `foundation-probe-${Date.now()}`;
    const before = llm.requests.length;
    const res = await g.post("/v1/chat/completions", {
      model: "openclaw/default",
      messages: [{ role: "user", content: `Please echo ${phrase}` }],
    });
    const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.choices?.[0]?.message?.content).toContain("[llm-foundation]");
    expect(body.choices?.[0]?.message?.content).toContain(phrase);
    expect(llm.requests.slice(before).some((r) => r.lastUserText?.includes(phrase))).toBe(true);
  });
});
