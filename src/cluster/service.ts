/**
 * The cluster on the server: tasks are validated and stored, dispatched on the
 * queue of their pool and tool, claimed by executors (one claim wins),
 * followed through their stages, and ended — by the executor's report, a
 * cancel, or the sweep (timeouts, lost executors). State lives in SQL, so
 * several servers can share it; the queue only carries task ids.
 */
import { randomBytes } from "node:crypto";
import { GamedockError, type Logger } from "../core/index.js";
import type { Database } from "../db/index.js";
import type { QueueBackend } from "../queue/index.js";
import { cacheDigest } from "./cache-digest.js";
import {
  ACTIVE_STATUSES,
  type NewTask,
  type TaskMessage,
  type TaskResult,
  type TaskSpec,
  type TaskStatus,
  type TaskView,
  taskQueueName,
} from "./model.js";
import { type Completion, type Heartbeat, type Registration, type RunReport } from "./reports.js";
import { parseTaskRequest, type TaskLimits } from "./request.js";
import { ExecutorStore } from "./store/executors.js";
import { ResultCache } from "./store/results.js";
import { TaskStore, type TaskRow } from "./store/tasks.js";
import { executorView, taskView } from "./views.js";

/** Whether the file service holds content (inputs must be there when a task is submitted). */
export interface InputCatalog {
  has(sha256: string, size: number): Promise<boolean>;
}

export interface ClusterSettings {
  envAllow: readonly string[];
  heartbeatMs: number;
  lostAfterMs: number;
  retentionSeconds: number;
  defaults: { assignMs: number; stagingMs: number; runMs: number; retries: number };
  limits: TaskLimits;
  /** Pool of tasks that name none. */
  pool: string;
}

export interface SubmitAnswer {
  task: TaskView;
  /** false: a task with the same key existed; this is it. */
  created: boolean;
  cache: { hit: boolean; disabled: string | null };
}

export class ClusterService {
  readonly tasks: TaskStore;
  readonly executors: ExecutorStore;
  readonly results: ResultCache;
  /** Given to this process's own executor: it may consume a queue that is not Redis. */
  readonly localKey = randomBytes(16).toString("hex");

  constructor(
    database: Database,
    readonly queue: QueueBackend,
    readonly catalog: InputCatalog,
    readonly settings: ClusterSettings,
    readonly logger: Logger,
    readonly now: () => number = Date.now,
  ) {
    this.tasks = new TaskStore(database.db, now);
    this.executors = new ExecutorStore(database.db, now);
    this.results = new ResultCache(database.db, now);
  }

  async submit(body: unknown, owner: string): Promise<SubmitAnswer> {
    const checked = parseTaskRequest(body, { ...this.settings, defaults: this.settings.defaults });
    const none = { hit: false, disabled: null };
    if (checked.key !== null) {
      const existing = await this.tasks.byKey(checked.key);
      if (existing) return { task: taskView(existing), created: false, cache: none };
    }
    for (const [i, input] of checked.inputs.entries()) {
      if (!(await this.catalog.has(input.sha256, input.size))) {
        throw new GamedockError(
          "E_INPUT_NOT_FOUND",
          `inputs.${i} (${JSON.stringify(input.path)}): no stored file has sha256 ${input.sha256} and size ${input.size}; upload it to /files first`,
          { field: `inputs.${i}`, sha256: input.sha256 },
        );
      }
    }
    const alive = await this.executors.alive(checked.pool);
    const offering = alive.filter(
      (e) => checked.tool in (JSON.parse(e.tools) as Record<string, string>),
    );
    if (alive.length > 0 && offering.length === 0) {
      throw new GamedockError(
        "E_TOOL_UNKNOWN",
        `tool ${JSON.stringify(checked.tool)}: none of the ${alive.length} live executors of pool ${JSON.stringify(checked.pool)} offers it`,
        { field: "tool", pool: checked.pool },
      );
    }
    const task: NewTask = { id: newTaskId(), ...checked, owner };
    let cache = none as SubmitAnswer["cache"];
    let digest: string | null = null;
    if (task.cacheable) {
      const binaries = new Set(
        offering.map((e) => (JSON.parse(e.tools) as Record<string, string>)[task.tool]),
      );
      if (binaries.size === 1) digest = cacheDigest(task, [...binaries][0]!);
      else {
        cache = {
          hit: false,
          disabled:
            binaries.size === 0
              ? "no live executor reports the tool's binary yet"
              : `the executors of pool ${JSON.stringify(task.pool)} run ${binaries.size} different binaries of ${JSON.stringify(task.tool)}`,
        };
      }
    }
    const hit = digest === null ? null : await this.results.get(digest);
    try {
      if (hit !== null) {
        const result = { ...(JSON.parse(hit) as TaskResult), cached: true };
        await this.tasks.insert(task, {
          status: "done",
          result: JSON.stringify(result),
          cacheDigest: digest,
        });
        cache = { hit: true, disabled: null };
      } else {
        await this.tasks.insert(task, { status: "queued", cacheDigest: digest });
      }
    } catch (err) {
      // Two submits with one key raced: the other's task is the answer.
      const existing = task.key === null ? undefined : await this.tasks.byKey(task.key);
      if (existing) return { task: taskView(existing), created: false, cache: none };
      throw err;
    }
    const row = await this.mustGet(task.id);
    if (row.status === "queued") await this.dispatch(row);
    this.logger.info(
      {
        event: "task-submitted",
        taskId: task.id,
        tool: task.tool,
        pool: task.pool,
        cached: cache.hit,
      },
      "task submitted",
    );
    return { task: taskView(await this.mustGet(task.id)), created: true, cache };
  }

  async get(id: string): Promise<TaskView> {
    return taskView(await this.mustGet(id));
  }

  async cancel(id: string): Promise<TaskView> {
    const outcome = await this.tasks.cancel(id);
    if (outcome === "missing") throw notFound(id);
    if (outcome === "final") {
      const row = await this.mustGet(id);
      throw new GamedockError("E_TASK_STATE", `task ${id} has already finished (${row.status})`, {
        id,
        status: row.status,
      });
    }
    this.logger.info({ event: "task-cancel", taskId: id, outcome }, "task cancel");
    return this.get(id);
  }

  // --- executors ---------------------------------------------------------

  async register(registration: Registration, remoteAllowed: boolean) {
    if (!remoteAllowed && registration.localKey !== this.localKey) {
      throw new GamedockError(
        "E_CONFIG",
        `this server dispatches tasks on a ${this.queue.driver} queue (cluster.queue), which only its own executor can consume; remote executors need a redis queue shared with them`,
        { field: "cluster.queue" },
      );
    }
    const row = await this.executors.register({ ...registration, labels: registration.labels });
    // A registration is a new process (a restart keeps the id: same cache dir).
    // What the id still holds was left by the process before, which will never
    // report it, and a claim of it by the new one would be refused: run it again.
    const left = await this.tasks.heldBy(row.id);
    for (const task of left) await this.requeueOrFail(task, row.id, false);
    if (left.length > 0) {
      this.logger.warn(
        { event: "executor-restarted", executor: row.id, tasks: left.map((t) => t.id) },
        "executor registered again; the tasks its previous process held are given back",
      );
    }
    this.logger.info(
      {
        event: "executor-registered",
        executor: row.id,
        host: row.host,
        pool: row.pool,
        tools: Object.keys(registration.tools),
      },
      "executor registered",
    );
    return { executor: executorView(row), heartbeatMs: this.settings.heartbeatMs };
  }

  /** Records a heartbeat; answers the tasks the executor must stop (cancelled, or no longer its). */
  async heartbeat(id: string, beat: Heartbeat): Promise<{ cancel: string[] }> {
    if (!(await this.executors.heartbeat(id, { busy: beat.busy, cacheBytes: beat.cacheBytes }))) {
      throw new GamedockError(
        "E_EXECUTOR_NOT_FOUND",
        `executor ${id} is not registered (or was declared lost): register again`,
        { id },
      );
    }
    const cancel: string[] = [];
    for (const taskId of beat.running) {
      const task = await this.tasks.get(taskId);
      const mine =
        task?.executor_id === id &&
        (ACTIVE_STATUSES as readonly TaskStatus[]).includes(task.status);
      if (!mine || task.cancel_requested === 1) cancel.push(taskId);
    }
    return { cancel };
  }

  async deregister(id: string): Promise<void> {
    if (!(await this.executors.deregister(id)))
      throw new GamedockError("E_EXECUTOR_NOT_FOUND", `no executor ${id}`, { id });
    // What it still held goes back to the queue at once.
    for (const task of await this.tasks.heldBy(id)) await this.requeueOrFail(task, id, true);
  }

  async claim(taskId: string, executorId: string): Promise<TaskSpec | null> {
    const executor = await this.executors.get(executorId);
    if (executor?.state !== "alive") {
      throw new GamedockError(
        "E_EXECUTOR_NOT_FOUND",
        `executor ${executorId} is not registered: register again`,
        { id: executorId },
      );
    }
    const row = await this.tasks.claim(
      taskId,
      executorId,
      async (holder) => (await this.executors.get(holder))?.state !== "alive",
    );
    if (!row) return null;
    this.logger.info(
      { event: "task-claimed", taskId, executor: executorId, attempt: row.attempts },
      "task claimed",
    );
    return {
      id: row.id,
      tool: row.tool,
      args: JSON.parse(row.args) as string[],
      inputs: JSON.parse(row.inputs) as TaskSpec["inputs"],
      outputs: JSON.parse(row.outputs) as string[],
      env: JSON.parse(row.env) as Record<string, string>,
      timeouts: JSON.parse(row.timeouts) as TaskSpec["timeouts"],
      attempt: row.attempts,
    };
  }

  async progress(
    taskId: string,
    executorId: string,
    status: "staging" | "running" | "uploading",
  ): Promise<void> {
    if (!(await this.tasks.progress(taskId, executorId, status)))
      throw notYours(taskId, executorId);
  }

  async complete(taskId: string, completion: Completion): Promise<TaskView> {
    const task = await this.mustGet(taskId);
    if (
      task.executor_id !== completion.executor ||
      !(ACTIVE_STATUSES as readonly TaskStatus[]).includes(task.status)
    ) {
      throw notYours(taskId, completion.executor);
    }
    if (completion.kind === "handback") {
      await this.requeueOrFail(task, completion.executor, true);
      return this.get(taskId);
    }
    const result = completion.result ? toResult(completion.result) : null;
    let ended: boolean;
    if (completion.kind === "result" && completion.result.exitCode === 0) {
      ended = await this.tasks.finish(taskId, completion.executor, {
        status: "done",
        result: JSON.stringify(result),
      });
      if (ended && task.cache_digest)
        await this.results.put(task.cache_digest, taskId, JSON.stringify(result));
    } else {
      const error =
        completion.kind === "error"
          ? completion.error
          : {
              code: "E_EXIT_NONZERO",
              message: `${task.tool} exited with code ${completion.result.exitCode ?? "none"}${completion.result.stderr ? `: ${lastLine(completion.result.stderr)}` : ""}`,
            };
      const status =
        task.cancel_requested === 1 || error.code === "E_CANCELLED"
          ? "cancelled"
          : error.code === "E_TASK_TIMEOUT" || error.code === "E_STAGING_TIMEOUT"
            ? "timed_out"
            : "failed";
      ended = await this.tasks.finish(taskId, completion.executor, {
        status,
        result: result === null ? null : JSON.stringify(result),
        error:
          status === "cancelled"
            ? { code: "E_CANCELLED", message: "cancelled while it ran" }
            : error,
      });
    }
    if (!ended) throw notYours(taskId, completion.executor);
    const view = await this.get(taskId);
    this.logger.info(
      { event: "task-finished", taskId, status: view.status, code: view.error?.code },
      "task finished",
    );
    return view;
  }

  async listExecutors() {
    return (await this.executors.list()).map(executorView);
  }

  // --- internals ----------------------------------------------------------

  /** Puts a queued task's message on the queue of its pool and tool. */
  async dispatch(task: TaskRow): Promise<void> {
    const message: TaskMessage = { taskId: task.id, attempt: task.attempts };
    await this.queue.open<TaskMessage>(taskQueueName(task.pool, task.tool)).enqueue(message);
    await this.tasks.markDispatched(task.id, task.attempts);
  }

  /** After an executor is lost or gives a task back: another run if one is left, else E_EXECUTOR_LOST. */
  async requeueOrFail(task: TaskRow, executor: string, refund: boolean): Promise<void> {
    if (refund || task.attempts < 1 + task.retries) {
      const back = await this.tasks.requeue(task.id, executor, refund);
      if (back) await this.dispatch(back);
      return;
    }
    await this.tasks.finish(task.id, executor, {
      status: "failed",
      error: {
        code: "E_EXECUTOR_LOST",
        message: `executor ${executor} stopped answering while it ran the task (run ${task.attempts} of ${1 + task.retries})`,
      },
    });
  }

  async mustGet(id: string): Promise<TaskRow> {
    const row = await this.tasks.get(id);
    if (!row) throw notFound(id);
    return row;
  }
}

function toResult(report: RunReport): TaskResult {
  return {
    exitCode: report.exitCode,
    stdout: report.stdout,
    stderr: report.stderr,
    outputs: report.outputs.map((o) => ({ ...o, url: `/files/${encodeURIComponent(o.fileId)}` })),
    logs: report.logs,
    ms: report.ms,
  };
}

const lastLine = (text: string): string => text.trimEnd().split("\n").at(-1)?.slice(0, 200) ?? "";

export function newTaskId(): string {
  return `t${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
}

function notFound(id: string): GamedockError {
  return new GamedockError("E_TASK_NOT_FOUND", `no task with id ${JSON.stringify(id)}`, { id });
}

function notYours(taskId: string, executor: string): GamedockError {
  return new GamedockError(
    "E_TASK_STATE",
    `task ${taskId} is not held by executor ${executor} any more (it finished, was cancelled, or went to another executor)`,
    { id: taskId },
  );
}
