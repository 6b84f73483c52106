import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "@openclaw-bundle/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TopicEvent } from "./client.ts";
import { Ingress } from "./ingress.ts";
import { AgentruxService, type Config } from "./service.ts";
import { agentruxStatus, resolveAgentrux } from "./status.ts";

// `agentrux-openclaw-plugin.status` from the plugin config and from a service whose ingress
// reads an in-memory command topic (no broker).

const quiet = createLogger({ extension: "test", sink: { debug() {}, info() {}, warn() {}, error() {} } });
const TOPICS = { commandTopicId: "cmd-1", resultTopicId: "res-1", agentId: "main" };
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "agentrux-status-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function configured() {
  const resolved = resolveAgentrux({ ...TOPICS, maxConcurrency: 2 });
  if (!resolved.ok) throw new Error(`config refused: ${resolved.status.reason}`);
  const service = new AgentruxService(resolved.config as Config, quiet, async () => "answer", dir);
  return { resolved, service };
}

/** An ingress over a topic holding `n` old requests, drained once (a first start skips them). */
async function drainedIngress(n: number): Promise<Ingress> {
  const topic: TopicEvent[] = Array.from({ length: n }, (_, i) => ({
    event_id: `ev${i + 1}`,
    position: i + 1,
    type: "openclaw.request",
    payload: { request_id: `r${i + 1}` },
  }));
  const ingress = new Ingress({
    dir,
    topic: TOPICS.commandTopicId,
    read: async (_t, after, limit) =>
      topic.filter((e) => (e.position as number) > (after as number)).slice(0, limit),
    head: async () => n,
    start: 0,
    dispatch: async () => {},
  });
  await ingress.drain();
  return ingress;
}

describe("agentrux config resolution", () => {
  it("is disabled without any topic, and unconfigured naming each missing key once one is set", () => {
    expect(resolveAgentrux({ baseUrl: "https://api.example.test" })).toMatchObject({
      ok: false,
      status: {
        state: "disabled",
        reason: "no AgenTrux topics configured (set AGENTRUX_COMMAND_TOPIC_ID and AGENTRUX_RESULT_TOPIC_ID)",
      },
    });
    expect(resolveAgentrux({ commandTopicId: "cmd-1" })).toMatchObject({
      ok: false,
      status: {
        state: "unconfigured",
        reason: "agentrux-openclaw-plugin is enabled but missing resultTopicId, agentId",
        problems: ["resultTopicId: required", "agentId: required"],
      },
    });
    const bad = resolveAgentrux({ ...TOPICS, maxConcurrency: 0 });
    expect(bad.ok ? undefined : bad.status).toMatchObject({
      state: "invalid",
      problems: [expect.stringMatching(/^maxConcurrency: .*\(got 0\)$/)],
    });
  });
});

describe("agentrux status", () => {
  it("is idle before the channel starts, degraded with the reason while it cannot run", () => {
    const { resolved, service } = configured();
    expect(agentruxStatus(resolved)).toEqual({
      id: "agentrux-openclaw-plugin",
      enabled: true,
      configured: true,
      state: "idle",
      reason: "configured; the AgenTrux channel has not started yet",
      baseUrl: "https://api.agentrux.com",
      topics: { command: "cmd-1", result: "res-1" },
      agentId: "main",
    });
    expect(agentruxStatus(resolved, service)).toMatchObject({ state: "degraded", reason: "not running" });
    service.lastError = "activation failed: 401 from the broker";
    service.activation = { state: "retry-later", detail: "broker down" };
    expect(agentruxStatus(resolved, service)).toMatchObject({
      state: "degraded",
      reason: "activation failed: 401 from the broker",
      activation: "retry-later",
    });
    expect(agentruxStatus(resolveAgentrux({}), service).state).toBe("disabled");
  });

  it("says it is finding the topic's end, then running with the waterline once SSE is open", async () => {
    const { resolved, service } = configured();
    service.ingress = new Ingress({
      dir,
      topic: "cmd-1",
      read: async () => [],
      head: async () => 0,
      start: 0,
      dispatch: async () => {},
    });
    service.activation = { state: "activated", scriptId: "script-1" };
    expect(agentruxStatus(resolved, service)).toMatchObject({
      state: "idle",
      reason: "starting: finding the command topic's newest event (a first start skips what came before)",
      activation: "activated",
    });
    service.ingress = await drainedIngress(3);
    service.sse = "open";
    const st = agentruxStatus(resolved, service);
    expect(st).toMatchObject({
      state: "running",
      sse: "open",
      waterline: 3,
      active: 0,
      maxConcurrency: 2,
      counters: { received: 0, dispatched: 0, deduplicated: 0, failed: 0, ignored: 0 },
    });
    expect(st.reason).toBeUndefined();
    expect(st.saveError).toBeUndefined();
  });

  it("is degraded while the SSE hint stream is down, saying requests still arrive by polling", async () => {
    const { resolved, service } = configured();
    service.ingress = await drainedIngress(1);
    service.sse = "down";
    expect(agentruxStatus(resolved, service).reason).toBe(
      "SSE hint stream down; requests still arrive by polling",
    );
    service.lastError = "SSE: 503";
    service.ingress.saveError = "EACCES: waterline.json";
    expect(agentruxStatus(resolved, service)).toMatchObject({
      state: "degraded",
      reason: "SSE hint stream down; requests still arrive by polling (SSE: 503)",
      saveError: "EACCES: waterline.json",
    });
  });
});
