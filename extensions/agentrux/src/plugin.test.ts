import { describe, expect, it } from "vitest";
import { fakePluginApi } from "../../../test/harness/fake-plugin-api.ts";
import { registerAgentrux, registerExecPolicy } from "./plugin.ts";
import { conversationPeer } from "./session.ts";
import { PLUGIN_ID } from "./status.ts";
import { TOOL_NAMES } from "./tool-names.ts";

// registerAgentrux / registerExecPolicy against a fake host api: what they register, and what
// the status method, the tools and the exec hook answer before the channel account runs.

const CONFIG = { commandTopicId: "cmd", resultTopicId: "res", agentId: "main" };
const AGENTRUX_SESSION = `agent:main:${PLUGIN_ID}:default:direct:${conversationPeer("cmd", "c1")}`;

function register(pluginConfig?: Record<string, unknown>) {
  const host = fakePluginApi({ pluginConfig });
  registerAgentrux(host.api);
  return host;
}

describe("registerAgentrux", () => {
  it("without topics: status says disabled and how to enable it, and no tools exist", async () => {
    const host = register({});
    expect(host.methods()).toEqual([`${PLUGIN_ID}.status`]);
    expect(await host.call(`${PLUGIN_ID}.status`)).toEqual({
      ok: true,
      payload: expect.objectContaining({
        state: "disabled",
        reason: expect.stringContaining("set AGENTRUX_COMMAND_TOPIC_ID"),
      }),
    });
    expect(host.tools()).toEqual([]);
  });

  it("with a topic but not the rest: status names what is missing, and no tools exist", async () => {
    const host = register({ commandTopicId: "cmd" });
    expect((await host.call(`${PLUGIN_ID}.status`)).payload).toMatchObject({
      state: "unconfigured",
      problems: ["resultTopicId: required", "agentId: required"],
    });
    expect(host.tools()).toEqual([]);
    await host.startServices("/nonexistent");
    expect(host.logs).toEqual([
      `warn [${PLUGIN_ID}] ${PLUGIN_ID} not started: ${PLUGIN_ID} is enabled but missing resultTopicId, agentId`,
    ]);
  });

  it("when configured: the manifest's tools, each with a human label, answer before activation", async () => {
    const host = register(CONFIG);
    expect((await host.call(`${PLUGIN_ID}.status`)).payload).toMatchObject({
      state: "idle",
      reason: "configured; the AgenTrux channel has not started yet",
      topics: { command: "cmd", result: "res" },
    });
    const tools = host.tools({ sessionKey: AGENTRUX_SESSION });
    expect(tools.map((t) => t.tool.name)).toEqual([...TOOL_NAMES]);
    for (const { tool, names } of tools) {
      expect(names).toEqual([...TOOL_NAMES]);
      expect(tool.label).toMatch(/^[A-Z][A-Za-z ]{3,40}$/);
      expect(tool.label).toContain("AgenTrux");
    }
    const read = tools.find((t) => t.tool.name === "agentrux_read")?.tool;
    expect((await read?.execute("c1", { topic_id: "cmd" }))?.content[0]).toEqual({
      type: "text",
      text: expect.stringMatching(/^error AGENTRUX_ERR_NOT_ACTIVATED: .*call agentrux_activate/),
    });
  });
});

describe("registerExecPolicy", () => {
  const hook = (pluginConfig: Record<string, unknown>) => {
    const host = fakePluginApi({ pluginConfig });
    registerExecPolicy(host.api);
    return host.hooks("before_tool_call");
  };
  const exec = (h: ReturnType<typeof hook>, command: string, sessionKey: string) =>
    h[0]?.({ toolName: "exec", params: { command } }, { sessionKey });

  it("registers nothing while AgenTrux is not configured", () => {
    expect(hook({})).toEqual([]);
  });

  it("blocks shell commands in AgenTrux turns by the configured policy, and leaves other turns alone", () => {
    const off = hook(CONFIG);
    expect(off).toHaveLength(1);
    expect(exec(off, "ls", AGENTRUX_SESSION)).toEqual({
      block: true,
      blockReason:
        "AgenTrux execPolicy: exec is off for requests from AgenTrux (execPolicy.enabled is false)",
    });
    expect(exec(off, "rm -rf /", "agent:main:main")).toBeUndefined();

    const on = hook({ ...CONFIG, execPolicy: { enabled: true, allowedCommands: ["ls( -la)?"] } });
    expect(exec(on, "ls -la", AGENTRUX_SESSION)).toBeUndefined();
    expect(exec(on, "rm -rf /", AGENTRUX_SESSION)).toEqual({
      block: true,
      blockReason: expect.stringContaining("matches none of execPolicy.allowedCommands (ls( -la)?)"),
    });
  });
});
