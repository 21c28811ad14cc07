/**
 * The cluster on the server: tasks are validated and stored, dispatched on the
 * queue of their pool and tool, claimed by executors (executor-desk.ts: one
 * claim wins), followed through their stages, and ended — by the executor's
 * report, a cancel, or the sweep (timeouts, lost executors). State lives in
 * SQL, so several servers can share it; the queue only carries task ids.
 */
import { randomBytes } from "node:crypto";
import { GamedockError, type Logger } from "../core/index.js";
import type { Database } from "../db/index.js";
import type { QueueBackend } from "../queue/index.js";
import { cacheDigest } from "./cache-digest.js";
import {
  FINAL_STATUSES,
  type NewTask,
  type TaskMessage,
  type TaskResult,
  type TaskStatus,
  type TaskView,
  taskQueueName,
} from "./model.js";
import { parseTaskRequest, type TaskLimits } from "./request.js";
import { ExecutorStore } from "./store/executors.js";
import { ResultCache } from "./store/results.js";
import { TaskStore, type FinishOutcome, type TaskRow } from "./store/tasks.js";
import { addTaskEvent } from "./task-events.js";
import { taskView } from "./views.js";

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
  /** Configured notifier names (a task's `notify.targets` must be among them). */
  notifiers: readonly string[];
  /** Base of absolute URLs in events (server.publicUrl, or http://host:port). */
  baseUrl: string;
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
    /** Queues outbox rows for delivery once committed (the notify stage sends them). */
    readonly deliver: (ids: string[]) => Promise<void> = () => Promise.resolve(),
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

  /** Cancels: a queued task at once; a running one is asked (its executor learns at its next heartbeat). */
  async cancel(id: string): Promise<TaskView> {
    const row = await this.mustGet(id);
    if ((FINAL_STATUSES as readonly TaskStatus[]).includes(row.status)) {
      throw new GamedockError("E_TASK_STATE", `task ${id} has already finished (${row.status})`, {
        id,
        status: row.status,
      });
    }
    const cancelled = await this.endTask(
      id,
      null,
      {
        status: "cancelled",
        error: { code: "E_CANCELLED", message: "cancelled before an executor took it" },
      },
      ["queued"],
    );
    if (!cancelled) await this.tasks.requestCancel(id);
    this.logger.info({ event: "task-cancel", taskId: id, atOnce: cancelled }, "task cancel");
    return this.get(id);
  }

  /**
   * Ends a task (if it is in one of `from`, and held by `executor` when given)
   * and puts its task.finished event in the outbox, in one transaction; the
   * event is queued once that committed.
   */
  async endTask(
    id: string,
    executor: string | null,
    outcome: FinishOutcome,
    from?: readonly TaskStatus[],
  ): Promise<boolean> {
    const ids: string[] = [];
    const ended = await this.tasks.finish(id, executor, outcome, from, async (trx, row) => {
      ids.push(...(await addTaskEvent(trx, row, this.settings.baseUrl, this.now())));
    });
    if (ended) {
      // Every end is logged here, whoever ended it: executor report, cancel, sweep.
      this.logger.info(
        { event: "task-finished", taskId: id, status: outcome.status, code: outcome.error?.code },
        "task finished",
      );
    }
    if (ids.length > 0) await this.deliver(ids);
    return ended;
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
    await this.endTask(task.id, executor, {
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

export function newTaskId(): string {
  return `t${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
}

function notFound(id: string): GamedockError {
  return new GamedockError("E_TASK_NOT_FOUND", `no task with id ${JSON.stringify(id)}`, { id });
}
