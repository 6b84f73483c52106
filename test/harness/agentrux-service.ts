import { createLogger } from "@openclaw-bundle/shared";
import { agentruxConfig } from "../../extensions/agentrux/src/config-schema.ts";
import { AgentruxService, type Config } from "../../extensions/agentrux/src/service.ts";

/**
 * An AgentruxService for the tools' unit tests: started on `command`/`result` at `baseUrl`,
 * logging nowhere, and refusing agent turns (the tools need none).
 */
export async function startToolService(
  o: { command: string; result: string; baseUrl: string },
  home: string,
): Promise<AgentruxService> {
  const config = agentruxConfig.schema.parse({
    commandTopicId: o.command,
    resultTopicId: o.result,
    agentId: "main",
    baseUrl: o.baseUrl,
    pollIntervalMs: 60_000,
  }) as Config;
  const sink = { info() {}, warn() {}, error() {} };
  const service = new AgentruxService(
    config,
    createLogger({ extension: "test", sink }),
    async () => {
      throw new Error("no agent turns in this test");
    },
    home,
  );
  await service.start();
  return service;
}
