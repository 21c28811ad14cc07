/**
 * Tasks in SQL: every change is one conditional UPDATE (or one transaction)
 * that says which states it moves from, so a stale executor, a duplicate
 * message and the timeout sweep can race without two of them winning. The
 * first run is attempt 1; an executor lost mid-run gives the task back to the
 * queue until `retries` re-runs are used up.
 */
import type { Kysely, Transaction } from "kysely";
import type { ClusterTaskTable, Tables } from "../../db/index.js";
import { ACTIVE_STATUSES, FINAL_STATUSES, type NewTask, type TaskStatus } from "../model.js";

export type TaskRow = ClusterTaskTable;

export interface FinishOutcome {
  status: "done" | "failed" | "timed_out" | "cancelled";
  result?: string | null;
  error?: { code: string; message: string } | null;
}

export class TaskStore {
  constructor(
    readonly db: Kysely<Tables>,
    readonly now: () => number,
  ) {}

  async insert(
    task: NewTask,
    initial: { status: TaskStatus; result?: string; cacheDigest?: string | null },
  ) {
    const now = this.now();
    const final = (FINAL_STATUSES as readonly TaskStatus[]).includes(initial.status);
    await this.db
      .insertInto("cluster_tasks")
      .values({
        id: task.id,
        idem_key: task.key,
        status: initial.status,
        tool: task.tool,
        pool: task.pool,
        args: JSON.stringify(task.args),
        inputs: JSON.stringify(task.inputs),
        outputs: JSON.stringify(task.outputs),
        env: JSON.stringify(task.env),
        timeouts: JSON.stringify(task.timeouts),
        retries: task.retries,
        cacheable: task.cacheable ? 1 : 0,
        cache_digest: initial.cacheDigest ?? null,
        owner: task.owner,
        notify_level: task.notify.level,
        notify_targets: JSON.stringify(task.notify.targets),
        executor_id: null,
        attempts: 0,
        cancel_requested: 0,
        deadline_at: final ? null : now + task.timeouts.assignMs,
        result: initial.result ?? null,
        error_code: null,
        error_message: null,
        dispatched: 0,
        created_at: now,
        assigned_at: null,
        started_at: null,
        finished_at: final ? now : null,
        updated_at: now,
      })
      .execute();
  }

  get(id: string): Promise<TaskRow | undefined> {
    return this.db.selectFrom("cluster_tasks").selectAll().where("id", "=", id).executeTakeFirst();
  }

  byKey(key: string): Promise<TaskRow | undefined> {
    return this.db
      .selectFrom("cluster_tasks")
      .selectAll()
      .where("idem_key", "=", key)
      .executeTakeFirst();
  }

  async list(filter: { status?: TaskStatus | undefined; limit: number; offset: number }) {
    let query = this.db.selectFrom("cluster_tasks");
    if (filter.status) query = query.where("status", "=", filter.status);
    const [rows, count] = await Promise.all([
      query
        .selectAll()
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(filter.limit)
        .offset(filter.offset)
        .execute(),
      query.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
    ]);
    return { rows, total: Number(count.n) };
  }

  async markDispatched(id: string, attempt: number): Promise<void> {
    await this.db
      .updateTable("cluster_tasks")
      .set({ dispatched: 1 })
      .where("id", "=", id)
      .where("attempts", "=", attempt)
      .where("status", "=", "queued")
      .execute();
  }

  /**
   * Takes a queued task for `executor` (run number attempts + 1); also a task
   * whose executor is lost, while re-runs are left. Returns the row as claimed,
   * or null: someone else has it, it is finished or cancelled, or out of runs.
   */
  async claim(
    id: string,
    executor: string,
    isLost: (executorId: string) => Promise<boolean>,
  ): Promise<TaskRow | null> {
    const task = await this.get(id);
    if (!task || task.cancel_requested === 1) return null;
    const active = (ACTIVE_STATUSES as readonly TaskStatus[]).includes(task.status);
    if (
      task.status !== "queued" &&
      !(active && task.executor_id !== null && (await isLost(task.executor_id)))
    ) {
      return null;
    }
    if (task.attempts >= 1 + task.retries) return null;
    const now = this.now();
    const timeouts = JSON.parse(task.timeouts) as { stagingMs: number; runMs: number };
    // A task without inputs has nothing to stage: claiming it starts its run.
    const runsAtOnce = task.inputs === "[]";
    const claimed = {
      status: runsAtOnce ? ("running" as const) : ("assigned" as const),
      executor_id: executor,
      attempts: task.attempts + 1,
      assigned_at: now,
      started_at: runsAtOnce ? now : task.started_at,
      deadline_at: now + (runsAtOnce ? timeouts.runMs : timeouts.stagingMs),
      updated_at: now,
    };
    // Compare-and-set on what was read: of two claims, one wins.
    let update = this.db
      .updateTable("cluster_tasks")
      .set(claimed)
      .where("id", "=", id)
      .where("status", "=", task.status)
      .where("attempts", "=", task.attempts);
    update =
      task.executor_id === null
        ? update.where("executor_id", "is", null)
        : update.where("executor_id", "=", task.executor_id);
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? { ...task, ...claimed } : null;
  }

  /** The executor says where it is; the stage's deadline starts. False if the task is not its any more. */
  async progress(
    id: string,
    executor: string,
    status: "staging" | "running" | "uploading",
  ): Promise<boolean> {
    const task = await this.get(id);
    if (!task || task.executor_id !== executor) return false;
    const now = this.now();
    const timeouts = JSON.parse(task.timeouts) as { stagingMs: number; runMs: number };
    const deadline = status === "staging" ? task.deadline_at : now + timeouts.runMs;
    const result = await this.db
      .updateTable("cluster_tasks")
      .set({
        status,
        deadline_at: deadline,
        updated_at: now,
        ...(status === "running" ? { started_at: now } : {}),
      })
      .where("id", "=", id)
      .where("executor_id", "=", executor)
      .where("status", "in", [...ACTIVE_STATUSES])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Ends a task that is not final; `executor`: only if that executor holds it.
   * `within` runs in the same transaction once the task has ended (the outbox).
   */
  async finish(
    id: string,
    executor: string | null,
    outcome: FinishOutcome,
    from: readonly TaskStatus[] = ["queued", ...ACTIVE_STATUSES],
    within?: (trx: Transaction<Tables>, row: TaskRow) => Promise<void>,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const now = this.now();
      let update = trx
        .updateTable("cluster_tasks")
        .set({
          status: outcome.status,
          result: outcome.result ?? null,
          error_code: outcome.error?.code ?? null,
          error_message: outcome.error?.message ?? null,
          deadline_at: null,
          finished_at: now,
          updated_at: now,
        })
        .where("id", "=", id)
        .where("status", "in", [...from]);
      if (executor !== null) update = update.where("executor_id", "=", executor);
      const result = await update.executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      if (within) {
        const row = await trx
          .selectFrom("cluster_tasks")
          .selectAll()
          .where("id", "=", id)
          .executeTakeFirstOrThrow();
        await within(trx, row);
      }
      return true;
    });
  }

  /** Back to the queue for another run (executor lost, or handed back at shutdown). */
  async requeue(id: string, fromExecutor: string, refund: boolean): Promise<TaskRow | null> {
    const task = await this.get(id);
    if (!task || task.executor_id !== fromExecutor) return null;
    const now = this.now();
    const timeouts = JSON.parse(task.timeouts) as { assignMs: number };
    const attempts = refund ? task.attempts - 1 : task.attempts;
    const result = await this.db
      .updateTable("cluster_tasks")
      .set({
        status: "queued",
        executor_id: null,
        attempts,
        dispatched: 0,
        deadline_at: now + timeouts.assignMs,
        updated_at: now,
      })
      .where("id", "=", id)
      .where("executor_id", "=", fromExecutor)
      .where("status", "in", [...ACTIVE_STATUSES])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1
      ? { ...task, status: "queued", executor_id: null, attempts }
      : null;
  }

  /** Asks the executor of a task to stop it (it learns at its next heartbeat). */
  async requestCancel(id: string): Promise<void> {
    await this.db
      .updateTable("cluster_tasks")
      .set({ cancel_requested: 1, updated_at: this.now() })
      .where("id", "=", id)
      .execute();
  }

  /** Tasks whose stage deadline passed by `graceMs`, in the states given. */
  overdue(statuses: readonly TaskStatus[], graceMs: number, limit = 500): Promise<TaskRow[]> {
    return this.db
      .selectFrom("cluster_tasks")
      .selectAll()
      .where("status", "in", [...statuses])
      .where("deadline_at", "<", this.now() - graceMs)
      .limit(limit)
      .execute();
  }

  /** Tasks an executor holds. */
  heldBy(executor: string): Promise<TaskRow[]> {
    return this.db
      .selectFrom("cluster_tasks")
      .selectAll()
      .where("executor_id", "=", executor)
      .where("status", "in", [...ACTIVE_STATUSES])
      .execute();
  }

  /** Queued tasks with no message in the queue (a crash between insert and enqueue). */
  undispatched(limit = 500): Promise<TaskRow[]> {
    return this.db
      .selectFrom("cluster_tasks")
      .selectAll()
      .where("status", "=", "queued")
      .where("dispatched", "=", 0)
      .limit(limit)
      .execute();
  }

  /** Removes finished tasks older than `before`; returns how many. */
  async purge(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom("cluster_tasks")
      .where("status", "in", [...FINAL_STATUSES])
      .where("finished_at", "<", before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
