import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Role, type Task, TaskState } from "@a2a-js/sdk";
import { ServerCallContext, type User } from "@a2a-js/sdk/server";
import { createLogger } from "@openclaw-bundle/shared";
import { describe, expect, it } from "vitest";
import { PersistentTaskStore } from "./task-store.ts";

const lines: string[] = [];
const log = createLogger({
  extension: "test",
  sink: { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error() {}, debug() {} },
});
const as = (name: string) =>
  new ServerCallContext({ user: { isAuthenticated: true, userName: name } satisfies User });

function task(id: string, state: TaskState, at = new Date().toISOString()): Task {
  return {
    id,
    contextId: `ctx-${id}`,
    status: { state, message: undefined, timestamp: at },
    artifacts: [],
    history: [
      {
        messageId: `m-${id}`,
        contextId: `ctx-${id}`,
        taskId: id,
        role: Role.ROLE_USER,
        parts: [
          {
            content: { $case: "raw", value: Buffer.from("abc") },
            metadata: undefined,
            filename: "",
            mediaType: "",
          },
        ],
        metadata: undefined,
        extensions: [],
        referenceTaskIds: [],
      },
    ],
    metadata: undefined,
  };
}

const dir = () => mkdtempSync(path.join(os.tmpdir(), "a2a-tasks-"));

describe("PersistentTaskStore", () => {
  it("keeps tasks across a restart; one that was running comes back failed, saying why", async () => {
    const stateDir = dir();
    const a = new PersistentTaskStore({ stateDir, maxTasks: 10, log });
    await a.open();
    await a.save(task("done", TaskState.TASK_STATE_COMPLETED), as("p1"));
    await a.save(task("busy", TaskState.TASK_STATE_WORKING), as("p1"));
    await a.flush();
    const file = path.join(stateDir, "clawmatrix", "a2a-tasks.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toContain("a binary part of 3 bytes, not kept");

    const b = new PersistentTaskStore({ stateDir, maxTasks: 10, log });
    await b.open();
    expect((await b.load("done", as("p1")))?.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const cut = await b.load("busy", as("p1"));
    expect(cut?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(JSON.stringify(cut?.status?.message)).toContain("the gateway restarted while this task ran");
    expect(lines.some((l) => l.includes("1 A2A task(s) were running when the gateway stopped"))).toBe(true);
  });

  it("gives a task only to the peer that made it, and lets no other peer overwrite it", async () => {
    const s = new PersistentTaskStore({ stateDir: dir(), maxTasks: 10, log });
    await s.save(task("t1", TaskState.TASK_STATE_WORKING), as("p1"));
    expect(await s.load("t1", as("p2"))).toBeUndefined();
    await s.save(task("t1", TaskState.TASK_STATE_CANCELED), as("p2"));
    expect((await s.load("t1", as("p1")))?.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const listed = await s.list(
      { tenant: "", contextId: "", status: 0, pageToken: "", statusTimestampAfter: undefined },
      as("p2"),
    );
    expect(listed.tasks).toEqual([]);
  });

  it("holds at most maxTasks, dropping finished tasks before running ones, and day-old finished ones", async () => {
    let now = Date.parse("2026-11-29T00:00:00Z");
    const s = new PersistentTaskStore({ stateDir: dir(), maxTasks: 3, log, now: () => now });
    await s.save(task("run1", TaskState.TASK_STATE_WORKING, new Date(now).toISOString()), as("p"));
    await s.save(task("old", TaskState.TASK_STATE_COMPLETED, new Date(now).toISOString()), as("p"));
    await s.save(task("run2", TaskState.TASK_STATE_WORKING, new Date(now).toISOString()), as("p"));
    await s.save(task("new", TaskState.TASK_STATE_COMPLETED, new Date(now).toISOString()), as("p"));
    expect(s.size).toBe(3);
    expect(await s.load("old", as("p"))).toBeUndefined();
    expect(await s.load("run1", as("p"))).toBeDefined();
    now += 86_400_001;
    await s.save(task("later", TaskState.TASK_STATE_WORKING, new Date(now).toISOString()), as("p"));
    expect(await s.load("new", as("p"))).toBeUndefined();
    expect(s.size).toBe(3);
  });

  it("pages a peer's list newest first and filters by context and state", async () => {
    // The clock is fixed: finished tasks a day old are dropped, and these are dated.
    const now = () => Date.parse("2026-11-29T00:01:00Z");
    const s = new PersistentTaskStore({ stateDir: dir(), maxTasks: 50, log, now });
    for (let i = 0; i < 5; i++)
      await s.save(
        task(
          `t${i}`,
          i % 2 ? TaskState.TASK_STATE_FAILED : TaskState.TASK_STATE_COMPLETED,
          `2026-11-29T00:00:0${i}Z`,
        ),
        as("p"),
      );
    const q = {
      tenant: "",
      contextId: "",
      status: 0,
      pageToken: "",
      statusTimestampAfter: undefined,
      pageSize: 2,
    };
    const p1 = await s.list(q, as("p"));
    expect(p1.tasks.map((t) => t.id)).toEqual(["t4", "t3"]);
    const p2 = await s.list({ ...q, pageToken: p1.nextPageToken }, as("p"));
    expect(p2.tasks.map((t) => t.id)).toEqual(["t2", "t1"]);
    const failed = await s.list({ ...q, pageSize: 10, status: TaskState.TASK_STATE_FAILED }, as("p"));
    expect(failed.tasks.map((t) => t.id)).toEqual(["t3", "t1"]);
    const ctx = await s.list({ ...q, contextId: "ctx-t0" }, as("p"));
    expect(ctx.tasks.map((t) => t.id)).toEqual(["t0"]);
  });

  it("starts empty, saying so, when the file is not JSON, and never half-writes it", async () => {
    const stateDir = dir();
    const file = path.join(stateDir, "clawmatrix", "a2a-tasks.json");
    const s0 = new PersistentTaskStore({ stateDir, maxTasks: 10, log });
    await s0.save(task("x", TaskState.TASK_STATE_COMPLETED), as("p"));
    await s0.flush();
    writeFileSync(file, "{ broken");
    const s = new PersistentTaskStore({ stateDir, maxTasks: 10, log });
    await s.open();
    expect(s.size).toBe(0);
    expect(lines.some((l) => l.includes("A2A tasks not restored"))).toBe(true);
  });

  it("on close, fails the tasks still running with the stop as the reason, and ignores later saves", async () => {
    const stateDir = dir();
    const s = new PersistentTaskStore({ stateDir, maxTasks: 10, log });
    await s.save(task("busy", TaskState.TASK_STATE_WORKING), as("p"));
    await s.close();
    await s.save(task("busy", TaskState.TASK_STATE_COMPLETED), as("p"));
    const again = new PersistentTaskStore({ stateDir, maxTasks: 10, log });
    await again.open();
    const t = await again.load("busy", as("p"));
    expect(t?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(JSON.stringify(t?.status?.message)).toContain("the gateway stopped while this task ran");
  });
});
