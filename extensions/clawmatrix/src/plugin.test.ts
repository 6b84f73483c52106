import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type FakePluginApi, fakePluginApi } from "../../../test/harness/fake-plugin-api.ts";
import { freePort } from "../../../test/harness/ports.ts";
import { registerClawmatrix } from "./plugin.ts";
import { TOOL_NAMES } from "./tool-names.ts";

// registerClawmatrix against a fake host api: what it registers, and what its methods answer.

const SECRET = "0123456789abcdef-mesh";
const stateDir = mkdtempSync(path.join(os.tmpdir(), "clawmatrix-plugin-"));
let started: FakePluginApi | undefined;

afterEach(async () => {
  await started?.stopServices(stateDir);
  started = undefined;
});

function register(pluginConfig?: Record<string, unknown>) {
  const host = fakePluginApi({ pluginConfig });
  registerClawmatrix(host.api);
  return host;
}

describe("registerClawmatrix", () => {
  it("without a secret: status says disabled and why, and no tools or mesh service exist", async () => {
    const host = register({ nodeId: "n1" });
    expect(host.methods()).toEqual(["clawmatrix.status", "clawmatrix.topology", "clawmatrix.peers"]);
    expect(await host.call("clawmatrix.topology")).toMatchObject({
      ok: false,
      error: { code: "UNAVAILABLE", message: "the mesh is not running on this node" },
    });
    expect(await host.call("clawmatrix.status")).toEqual({
      ok: true,
      payload: expect.objectContaining({
        state: "disabled",
        reason: "no mesh secret configured (set CLAWMATRIX_SECRET)",
      }),
    });
    expect(host.tools()).toEqual([]);
    expect(host.services.map((s) => s.id)).toEqual(["clawmatrix-status"]);
    expect(host.routes).toEqual([
      "/bundle/health/clawmatrix",
      "/bundle/metrics",
      "/bundle/topology",
      "/bundle/topology.json",
    ]);
    expect(host.cliRegistrations).toBe(1);
  });

  it("with an invalid config: status names the bad key, and no tools are registered", async () => {
    const host = register({ secret: "short", nodeId: "n1" });
    const status = await host.call("clawmatrix.status");
    expect(status.payload).toMatchObject({ state: "invalid", configured: false });
    expect(String((status.payload as { reason: string }).reason)).toMatch(/secret/);
    expect(host.tools()).toEqual([]);
    await host.startServices(stateDir);
    expect(host.logs).toEqual([
      expect.stringMatching(/^warn \[clawmatrix\] clawmatrix not started: .*secret/),
    ]);
  });

  it("when configured: every manifest tool is registered under its name with a human label", () => {
    const host = register({ secret: SECRET, nodeId: "n1" });
    const tools = host.tools();
    expect(tools.map((t) => t.tool.name)).toEqual([...TOOL_NAMES]);
    for (const { tool, names } of tools) {
      expect(names).toEqual([tool.name]);
      expect(tool.label).toMatch(/^[A-Z][A-Za-z ]{3,40}$/);
    }
    expect(new Set(tools.map((t) => t.tool.label)).size).toBe(tools.length);
  });

  it("answers clawmatrix.peers with UNAVAILABLE until the mesh runs, then with this node", async () => {
    const host = register({ secret: SECRET, nodeId: "n1", proxyPort: await freePort() });
    const down = {
      ok: false,
      error: { code: "UNAVAILABLE", message: "the mesh is not running on this node" },
    };
    expect(await host.call("clawmatrix.peers")).toEqual(down);
    const peersTool = host.tools().find((t) => t.tool.name === "cluster_peers")?.tool;
    expect((await peersTool?.execute("c1", {}))?.content).toEqual([
      { type: "text", text: "error MESH_ERR_UNREACHABLE: the mesh is not running on this node" },
    ]);

    started = host;
    await host.startServices(stateDir);
    expect(await host.call("clawmatrix.peers")).toEqual({
      ok: true,
      payload: expect.objectContaining({ nodeId: "n1", links: [], peers: [] }),
    });
    expect((await host.call("clawmatrix.status")).payload).toMatchObject({ state: "running", nodeId: "n1" });
    expect(host.logs).toContain("info [clawmatrix] mesh node n1 up");

    await host.stopServices(stateDir);
    started = undefined;
    expect((await host.call("clawmatrix.status")).payload).toMatchObject({ state: "idle" });
    expect(await host.call("clawmatrix.peers")).toEqual(down);
  });

  it("reports a mesh that cannot start as an error, and keeps answering", async () => {
    const port = await freePort();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    try {
      const host = register({ secret: SECRET, nodeId: "n1", proxyPort: port });
      started = host;
      await host.startServices(stateDir);
      const status = (await host.call("clawmatrix.status")).payload as { state: string; reason: string };
      expect(status.state).toBe("error");
      expect(status.reason).toMatch(/^the mesh failed to start: .*EADDRINUSE/);
      expect(host.logs).toContainEqual(expect.stringMatching(/^error \[clawmatrix\] mesh failed to start: /));
      expect(await host.call("clawmatrix.peers")).toEqual({
        ok: false,
        error: {
          code: "UNAVAILABLE",
          message: expect.stringMatching(/^the mesh is not running on this node \(.*EADDRINUSE/),
        },
      });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
