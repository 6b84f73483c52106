import path from "node:path";
import { type ListTasksRequest, type ListTasksResponse, Role, type Task, TaskState } from "@a2a-js/sdk";
import type { ServerCallContext, TaskStore } from "@a2a-js/sdk/server";
import { errorMessage, type Logger, readJsonFile, writeJsonAtomic } from "@openclaw-bundle/shared";
import { textMessage } from "./parts.ts";

/**
 * The mesh A2A endpoint's tasks, kept in the state volume (`<state>/clawmatrix/a2a-tasks.json`)
 * so a gateway restart keeps them: the host's own A2A channel keeps tasks in memory only. Each
 * task belongs to the peer that created it (the authenticated A2A peer): another peer neither
 * reads, lists nor cancels it. A task still running when the gateway stopped comes back failed,
 * saying so: its run died with the process and will not finish.
 *
 * Bounded: at most `maxTasks` (oldest finished ones go first, then the oldest), finished tasks
 * older than a day go. Written at most once a second while tasks stream, at once when one ends,
 * and on stop; a write is atomic, so a crash leaves the previous file whole.
 */

const FILE = "a2a-tasks.json";
const DAY_MS = 86_400_000;
const WRITE_DELAY_MS = 1_000;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 100;

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set([
  TaskState.TASK_STATE_COMPLETED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED,
]);

interface Stored {
  owner: string;
  task: Task;
}

/** The owner a call acts for: the authenticated peer's name. */
export function ownerOf(context: ServerCallContext | undefined): string {
  return context?.user?.isAuthenticated ? context.user.userName : "";
}

const isTerminal = (t: Task) => t.status !== undefined && TERMINAL_STATES.has(t.status.state);

const RESTARTED = "the gateway restarted while this task ran; its run stopped with it and will not finish";
const STOPPED = "the gateway stopped while this task ran; its run stopped with it and will not finish";

function cutShort(t: Task, why: string): Task {
  return {
    ...t,
    status: {
      state: TaskState.TASK_STATE_FAILED,
      timestamp: new Date().toISOString(),
      message: textMessage(Role.ROLE_AGENT, why, {
        taskId: t.id,
        contextId: t.contextId,
        messageId: `${t.id}-cut`,
      }),
    },
  };
}

/**
 * Raw (binary) parts are kept as a note of their size: the file is JSON, and a task's bytes are
 * the caller's, who has them; the mesh carries text and links (README, A2A).
 */
function withoutRawParts(t: Task): Task {
  const strip = (parts: Task["history"][number]["parts"]) =>
    parts.map((p) =>
      p.content?.$case === "raw"
        ? {
            ...p,
            content: {
              $case: "text" as const,
              value: `(a binary part of ${p.content.value.length} bytes, not kept)`,
            },
          }
        : p,
    );
  for (const m of t.history) m.parts = strip(m.parts);
  for (const a of t.artifacts) a.parts = strip(a.parts);
  if (t.status?.message) t.status.message.parts = strip(t.status.message.parts);
  return t;
}

export class PersistentTaskStore implements TaskStore {
  readonly #file: string;
  readonly #max: number;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Insertion order is age: the first entries are evicted first. */
  readonly #tasks = new Map<string, Stored>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** After close, saves are ignored: the runs that end as the mesh stops would say "mesh stopping". */
  #closed = false;

  constructor(opts: { stateDir: string; maxTasks: number; log: Logger; now?: () => number }) {
    this.#file = path.join(opts.stateDir, "clawmatrix", FILE);
    this.#max = opts.maxTasks;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#tasks.size;
  }

  /** Reads the file; running tasks come back failed. A file that does not parse is set aside. */
  async open(): Promise<void> {
    let stored: Stored[] | undefined;
    try {
      stored = await readJsonFile<Stored[]>(this.#file);
    } catch (err) {
      this.#log.warn(`A2A tasks not restored (${errorMessage(err)}); starting with none`);
    }
    let cut = 0;
    for (const s of Array.isArray(stored) ? stored : []) {
      if (typeof s?.owner !== "string" || typeof s.task?.id !== "string") continue;
      const task = isTerminal(s.task) ? s.task : cutShort(s.task, RESTARTED);
      if (task !== s.task) cut++;
      this.#tasks.set(task.id, { owner: s.owner, task });
    }
    this.#prune();
    if (cut) {
      this.#log.info(`${cut} A2A task(s) were running when the gateway stopped: marked failed`);
      this.#schedule(0);
    }
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const s = this.#tasks.get(taskId);
    return s && s.owner === ownerOf(context) ? structuredClone(s.task) : undefined;
  }

  async save(task: Task, context: ServerCallContext): Promise<void> {
    if (this.#closed) return;
    const owner = ownerOf(context);
    const had = this.#tasks.get(task.id);
    // A task id is the owner's: another peer cannot overwrite it by naming it.
    if (had && had.owner !== owner) return;
    const copy = withoutRawParts(structuredClone(task));
    if (!had) this.#tasks.set(task.id, { owner, task: copy });
    else had.task = copy;
    this.#prune();
    this.#schedule(isTerminal(task) ? 0 : WRITE_DELAY_MS);
  }

  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const owner = ownerOf(context);
    const after = params.statusTimestampAfter ? Date.parse(params.statusTimestampAfter) : undefined;
    const stamp = (t: Task) => t.status?.timestamp ?? "";
    let tasks = [...this.#tasks.values()]
      .filter((s) => s.owner === owner)
      .map((s) => s.task)
      .filter((t) => !params.contextId || t.contextId === params.contextId)
      .filter((t) => !params.status || t.status?.state === params.status)
      .filter((t) => after === undefined || Date.parse(stamp(t)) > after)
      .sort((a, b) => stamp(b).localeCompare(stamp(a)) || b.id.localeCompare(a.id));
    const totalSize = tasks.length;
    if (params.pageToken) {
      const at = tasks.findIndex((t) => t.id === params.pageToken);
      tasks = at < 0 ? [] : tasks.slice(at + 1);
    }
    const pageSize = Math.min(Math.max(params.pageSize ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
    const page = tasks.slice(0, pageSize).map((t) => {
      const copy = structuredClone(t);
      if (!params.includeArtifacts) copy.artifacts = [];
      const keep = params.historyLength;
      if (keep !== undefined) copy.history = keep > 0 ? copy.history.slice(-keep) : [];
      return copy;
    });
    const last = page.at(-1);
    return {
      tasks: page,
      nextPageToken: last && tasks.length > page.length ? last.id : "",
      pageSize,
      totalSize,
    };
  }

  /**
   * The gateway stops: tasks still running end failed, saying so (their runs stop with the
   * process), and everything is written. Later saves are ignored.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#tasks.values()) if (!isTerminal(s.task)) s.task = cutShort(s.task, STOPPED);
    await this.flush();
  }

  /** Writes what is pending now. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#write();
  }

  #prune(): void {
    const now = this.#now();
    for (const [id, s] of this.#tasks) {
      const at = Date.parse(s.task.status?.timestamp ?? "");
      if (isTerminal(s.task) && Number.isFinite(at) && now - at > DAY_MS) this.#tasks.delete(id);
    }
    if (this.#tasks.size <= this.#max) return;
    for (const [id, s] of this.#tasks) {
      if (this.#tasks.size <= this.#max) return;
      if (isTerminal(s.task)) this.#tasks.delete(id);
    }
    for (const id of this.#tasks.keys()) {
      if (this.#tasks.size <= this.#max) return;
      this.#tasks.delete(id);
    }
  }

  #schedule(delayMs: number): void {
    if (this.#timer && delayMs > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, delayMs);
    this.#timer.unref();
  }

  #write(): Promise<void> {
    const snapshot = [...this.#tasks.values()];
    // One write at a time, in order: a later snapshot never lands before an earlier one.
    this.#writing = this.#writing
      .then(() => writeJsonAtomic(this.#file, snapshot, { mode: 0o600 }))
      .catch((err) => this.#log.warn(`A2A tasks not saved: ${errorMessage(err)}`));
    return this.#writing;
  }
}
