import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type ExtensionState, registerStatusMethod } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = path.join(import.meta.dirname, "healthcheck.ts");
type Route = (req: unknown, res: http.ServerResponse) => unknown;

/** A stand-in gateway: ready, with each extension's health probe registered as the plugins do. */
async function gateway(states: Record<string, ExtensionState>): Promise<{ port: number; close(): void }> {
  const routes = new Map<string, Route>();
  for (const [id, state] of Object.entries(states)) {
    registerStatusMethod(
      { registerGatewayMethod() {}, registerHttpRoute: (r) => routes.set(r.path, r.handler as Route) },
      id,
      () => ({ id, enabled: true, configured: true, state }),
    );
  }
  const server = http.createServer((req, res) => {
    if (req.url === "/readyz") return void res.end("ok");
    const route = routes.get(req.url ?? "");
    if (route) return void route(req, res);
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

function healthcheck(config: unknown): Promise<{ code: number | null; stdout: string }> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "healthcheck-")), "openclaw.json");
  writeFileSync(file, JSON.stringify(config));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SCRIPT],
      { env: { ...process.env, OPENCLAW_CONFIG_PATH: file } },
      (err, stdout) => resolve({ code: err ? (err.code as number) : 0, stdout }),
    );
  });
}

const enabled = (...ids: string[]) => ({
  plugins: { entries: Object.fromEntries(ids.map((id) => [id, { enabled: true }])) },
});

describe("healthcheck", () => {
  let close = () => {};
  afterEach(() => close());

  it("names the first enabled extension in an unhealthy state, and ignores disabled ones", async () => {
    const g = await gateway({
      clawmatrix: "degraded",
      "agent-registry": "unconfigured",
      "auth-manager-lease-telemetry": "error",
    });
    close = g.close;
    const r = await healthcheck({ gateway: { port: g.port }, ...enabled("clawmatrix", "agent-registry") });
    expect(r).toEqual({ code: 1, stdout: "unhealthy: agent-registry is unconfigured\n" });
    const ok = await healthcheck({ gateway: { port: g.port }, ...enabled("clawmatrix") });
    expect(ok).toEqual({ code: 0, stdout: "healthy\n" });
  });

  it("says unhealthy, with the reason, when no gateway answers", async () => {
    const g = await gateway({});
    g.close();
    const r = await healthcheck({ gateway: { port: g.port }, ...enabled("clawmatrix") });
    expect(r).toEqual({ code: 1, stdout: "unhealthy: fetch failed\n" });
  });
});
