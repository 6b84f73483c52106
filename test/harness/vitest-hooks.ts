import { afterAll, afterEach, beforeAll } from "vitest";
import { type GatewayProcess, type GatewaySpec, startGateways, stopGateways } from "./gateway.ts";

export interface SharedGateways {
  /** Filled once beforeAll has started them. */
  list: GatewayProcess[];
  byName(name: string): GatewayProcess;
}

/**
 * Starts gateways once per test file (each costs ~20 s and ~1 GB), prints their logs when a test
 * fails, and always stops them — SIGTERM, then SIGKILL of the process group.
 */
export function useGateways(specs: () => GatewaySpec[] | Promise<GatewaySpec[]>): SharedGateways {
  const shared: SharedGateways = {
    list: [],
    byName(name) {
      const g = shared.list.find((x) => x.name === name);
      if (!g) throw new Error(`no gateway named ${name}`);
      return g;
    },
  };
  beforeAll(async () => {
    shared.list = await startGateways(await specs());
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") {
      for (const g of shared.list) process.stderr.write(`${g.logTail()}\n`);
    }
  });
  afterAll(async () => {
    await stopGateways(shared.list);
  });
  return shared;
}
