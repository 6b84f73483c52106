import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, describe, expect, it } from "vitest";
import { type MockRegistry, startMockRegistry } from "../../../test/mocks/registry/server.ts";
import { heartbeatPolicy, Registration } from "./registration.ts";
import { RegistryClient } from "./registry-client.ts";

const quiet = createLogger({ extension: "test", sink: { info() {}, warn() {}, error() {}, debug() {} } });

describe("heartbeatPolicy", () => {
  it("re-registers after maxFailures failures in a row, and at once on a 404", () => {
    expect(heartbeatPolicy(0, "failed", 3)).toEqual({ failures: 1, action: "retry" });
    expect(heartbeatPolicy(1, "failed", 3)).toEqual({ failures: 2, action: "retry" });
    expect(heartbeatPolicy(2, "failed", 3)).toEqual({ failures: 0, action: "reregister" });
    expect(heartbeatPolicy(2, "ok", 3)).toEqual({ failures: 0, action: "none" });
    expect(heartbeatPolicy(0, "not-found", 3)).toEqual({ failures: 0, action: "reregister" });
    expect(heartbeatPolicy(0, "failed", 1)).toEqual({ failures: 0, action: "reregister" });
  });
});

describe("Registration against the mock registry", () => {
  let reg: MockRegistry | undefined;
  let r: Registration | undefined;
  afterEach(async () => {
    await r?.stop();
    await reg?.close();
  });
  const agents = async () =>
    (
      (await (await fetch(`${reg?.url}/_control/registry/agents`)).json()) as {
        agents: Array<{ hostname: string; capabilities: string[] }>;
      }
    ).agents;
  const control = (p: string, body: unknown) =>
    fetch(`${reg?.url}/_control/registry/${p}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("registers, survives failing heartbeats, re-registers after three, and deregisters on stop", async () => {
    reg = await startMockRegistry({ apiKey: "k-123456" });
    const client = new RegistryClient({ baseUrl: reg.url, apiKey: "k-123456" });
    r = new Registration({
      client,
      body: () => ({ hostname: "me", installation_id: "inst-me", capabilities: ["x"] }),
      intervalMs: 100,
      maxFailures: 3,
      logger: quiet,
    });
    r.start();
    await expect.poll(() => r?.state, { timeout: 5000 }).toBe("registered");
    expect((await agents()).map((a) => a.hostname)).toEqual(["me"]);
    await control("fail-heartbeats", { count: 2 });
    await expect.poll(() => r?.consecutiveFailures, { timeout: 5000 }).toBe(2);
    await expect.poll(() => r?.consecutiveFailures, { timeout: 5000 }).toBe(0);
    expect(r.registrations).toBe(1); // two failures are not enough
    await control("fail-heartbeats", { count: 3 });
    await expect.poll(() => r?.registrations, { timeout: 5000 }).toBe(2);
    await control("forget", { hostname: "me" });
    await expect.poll(() => r?.registrations, { timeout: 5000 }).toBe(3);
    expect((await agents())[0]?.capabilities).toEqual(["x"]);
    await r.stop();
    expect(await agents()).toEqual([]);
  });

  it("keeps trying while the registry is unreachable, without throwing", async () => {
    reg = await startMockRegistry();
    await control("down", { ms: 600 });
    r = new Registration({
      client: new RegistryClient({ baseUrl: reg.url, timeoutMs: 500 }),
      body: () => ({ hostname: "late" }),
      intervalMs: 100,
      maxFailures: 3,
      logger: quiet,
    });
    r.start();
    await expect.poll(() => r?.lastError, { timeout: 3000 }).toMatch(/registration failed/);
    await expect.poll(() => r?.state, { timeout: 5000 }).toBe("registered");
  });
});
