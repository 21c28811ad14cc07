/**
 * The packer's durable state (design note 001's backup queues, made durable):
 * jobs, one task per channel, and an outbox of notifications. Every stage
 * transition is one transaction that first touches its job row, which
 * serialises the transitions of one job on every dialect (a row lock on
 * MySQL/PostgreSQL, SQLite's write lock taken up front) so exactly one of them
 * sees the job finish.
 */
import type { Kysely, Transaction } from "kysely";
import type { Database, PackJobTable, PackTaskTable, Tables } from "../db/index.js";
import type { NotifyEvent, NotifyLevel } from "../notify/index.js";
import { finishJobIfComplete, insertOutbox, outboxRowsFor } from "./completion.js";
import type { JobStatus, NewJob, TaskRef, TaskState } from "./model.js";

export type JobRow = PackJobTable;
export type TaskRow = PackTaskTable;
type Trx = Transaction<Tables>;

export interface TaskError {
  code: string;
  message: string;
}

export class PackStore {
  readonly db: Kysely<Tables>;
  constructor(
    readonly database: Database,
    readonly now: () => number = Date.now,
  ) {
    this.db = database.db;
  }

  /** Runs `work` in a transaction that first takes the job's row lock. */
  async withJob<T>(jobId: string, work: (trx: Trx) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("pack_jobs")
        .set({ updated_at: this.now() })
        .where("id", "=", jobId)
        .execute();
      return work(trx);
    });
  }

  async createJob(job: NewJob): Promise<void> {
    const now = this.now();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("pack_jobs")
        .values({
          id: job.id,
          status: "queued",
          apk: job.apk,
          apk_path: job.apkPath,
          queue: job.queue,
          target: job.target,
          prefix: job.prefix,
          name_template: job.nameTemplate,
          format: job.format,
          notify_level: job.notifyLevel,
          notify_targets: JSON.stringify(job.notifyTargets),
          round: 0,
          cancel_requested: 0,
          created_at: now,
          updated_at: now,
          finished_at: null,
        })
        .execute();
      // Chunked: SQLite allows at most 32766 bound parameters per statement.
      for (let i = 0; i < job.channels.length; i += 500) {
        await trx
          .insertInto("pack_tasks")
          .values(
            job.channels.slice(i, i + 500).map((c, j) => ({
              job_id: job.id,
              channel: c.channel,
              seq: i + j,
              extras: JSON.stringify(c.extras),
              state: "queued",
              attempts: 0,
              error_code: null,
              error_message: null,
              owner: null,
              lease_until: 0,
              dispatched: 0,
              file_name: c.fileName,
              output_key: null,
              output_size: null,
              output_sha256: null,
              upload_checkpoint: null,
              updated_at: now,
            })),
          )
          .execute();
      }
    });
  }

  getJobRow(id: string): Promise<JobRow | undefined> {
    return this.db.selectFrom("pack_jobs").selectAll().where("id", "=", id).executeTakeFirst();
  }

  getTask(ref: TaskRef): Promise<TaskRow | undefined> {
    return this.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .executeTakeFirst();
  }

  tasksOf(jobId: string): Promise<TaskRow[]> {
    return this.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("job_id", "=", jobId)
      .orderBy("seq")
      .execute();
  }

  async listJobs(filter: {
    status?: JobStatus | undefined;
    limit: number;
    offset: number;
  }): Promise<{ rows: JobRow[]; total: number }> {
    let query = this.db.selectFrom("pack_jobs");
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

  async taskCounts(jobIds: string[]): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    if (jobIds.length === 0) return out;
    const rows = await this.db
      .selectFrom("pack_tasks")
      .select(["job_id", "state", (eb) => eb.fn.countAll<number | string>().as("n")])
      .where("job_id", "in", jobIds)
      .groupBy(["job_id", "state"])
      .execute();
    for (const row of rows) {
      const counts = out.get(row.job_id) ?? new Map<string, number>();
      counts.set(row.state, Number(row.n));
      out.set(row.job_id, counts);
    }
    return out;
  }

  /** Marks that a message for the task's current state is in its queue. */
  async markDispatched(ref: TaskRef, state: TaskState): Promise<void> {
    await this.db
      .updateTable("pack_tasks")
      .set({ dispatched: 1 })
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .where("state", "=", state)
      .execute();
  }

  /**
   * Takes the task for a stage: succeeds only if it is in one of `from` and
   * nobody live holds it (compare-and-set on the owner that was read), so a
   * duplicate message finds the task taken and is dropped.
   */
  async claim(
    ref: TaskRef,
    from: readonly TaskState[],
    to: TaskState,
    owner: string,
    leaseMs: number,
    ownerIsLive: (owner: string, leaseUntil: number) => boolean,
  ): Promise<TaskRow | null> {
    const task = await this.getTask(ref);
    if (!task || !from.includes(task.state as TaskState)) return null;
    // Held by a live process — possibly this one, when recovery re-queued a task
    // the queue also redelivered — so this message is a duplicate.
    if (task.owner !== null && ownerIsLive(task.owner, task.lease_until)) return null;
    const now = this.now();
    let update = this.db
      .updateTable("pack_tasks")
      .set({ state: to, owner, lease_until: now + leaseMs, updated_at: now })
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .where("state", "=", task.state);
    update =
      task.owner === null
        ? update.where("owner", "is", null)
        : update.where("owner", "=", task.owner);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return null;
    if (task.state === "queued") {
      await this.db
        .updateTable("pack_jobs")
        .set({ status: "running", updated_at: now })
        .where("id", "=", ref.jobId)
        .where("status", "=", "queued")
        .execute();
    }
    return { ...task, state: to, owner, lease_until: now + leaseMs };
  }

  /** Extends the leases of every task `owner` holds. */
  async renewLeases(owner: string, leaseMs: number): Promise<void> {
    await this.db
      .updateTable("pack_tasks")
      .set({ lease_until: this.now() + leaseMs })
      .where("owner", "=", owner)
      .execute();
  }

  async saveCheckpoint(ref: TaskRef, owner: string, checkpoint: unknown): Promise<void> {
    await this.db
      .updateTable("pack_tasks")
      .set({ upload_checkpoint: JSON.stringify(checkpoint), updated_at: this.now() })
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .where("owner", "=", owner)
      .execute();
  }

  /**
   * Moves a held task to its next state and releases it; returns false if the
   * task is no longer this owner's (another worker recovered it meanwhile).
   */
  async advance(
    ref: TaskRef,
    owner: string,
    to: TaskState,
    fields: Partial<TaskRow> = {},
    /** Adds outbox rows in the same transaction; returns their ids. */
    withinJob?: (trx: Trx, job: JobRow) => Promise<string[]>,
  ): Promise<{ moved: boolean; notifications: string[] }> {
    return this.withJob(ref.jobId, async (trx) => {
      const result = await trx
        .updateTable("pack_tasks")
        .set({
          ...fields,
          state: to,
          owner: null,
          lease_until: 0,
          dispatched: 0,
          updated_at: this.now(),
        })
        .where("job_id", "=", ref.jobId)
        .where("channel", "=", ref.channel)
        .where("owner", "=", owner)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return { moved: false, notifications: [] };
      const job = await trx
        .selectFrom("pack_jobs")
        .selectAll()
        .where("id", "=", ref.jobId)
        .executeTakeFirstOrThrow();
      // Only the rows this transition adds: another transition queues its own.
      const notifications = withinJob ? await withinJob(trx, job) : [];
      notifications.push(...(await finishJobIfComplete(trx, job, this.now())));
      return { moved: true, notifications };
    });
  }

  /** Adds outbox rows (one per notifier) for `event` when the job's level wants it. */
  addEvent(trx: Trx, job: JobRow, event: NotifyEvent, channel: string | null): Promise<string[]> {
    return insertOutbox(trx, outboxRowsFor(job, event, channel, this.now()));
  }

  /** A transient failure: the task goes back to `state`, unowned, for a later attempt. */
  async release(
    ref: TaskRef,
    owner: string,
    state: TaskState,
    error: TaskError | null,
  ): Promise<void> {
    const base = { state, owner: null, lease_until: 0, dispatched: 0, updated_at: this.now() };
    await this.db
      .updateTable("pack_tasks")
      .set((eb) =>
        // null: handed back at shutdown, not a failed attempt.
        error === null
          ? base
          : {
              ...base,
              attempts: eb("attempts", "+", 1),
              error_code: error.code,
              error_message: error.message,
            },
      )
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .where("owner", "=", owner)
      .execute();
  }

  async cancel(
    jobId: string,
  ): Promise<{ found: boolean; finished: boolean; notifications: string[] }> {
    return this.withJob(jobId, async (trx) => {
      const job = await trx
        .selectFrom("pack_jobs")
        .selectAll()
        .where("id", "=", jobId)
        .executeTakeFirst();
      if (!job) return { found: false, finished: false, notifications: [] };
      if (job.finished_at !== null) return { found: true, finished: true, notifications: [] };
      await trx
        .updateTable("pack_jobs")
        .set({ cancel_requested: 1 })
        .where("id", "=", jobId)
        .execute();
      await trx
        .updateTable("pack_tasks")
        .set({
          state: "failed",
          error_code: "E_CANCELLED",
          error_message: "cancelled before it started",
          dispatched: 0,
          updated_at: this.now(),
        })
        .where("job_id", "=", jobId)
        .where("state", "=", "queued")
        .where("owner", "is", null)
        .execute();
      const fresh = { ...job, cancel_requested: 1 };
      const notifications = await finishJobIfComplete(trx, fresh, this.now());
      return { found: true, finished: false, notifications };
    });
  }

  /** Re-queues failed channels; returns them (empty when there were none). */
  async retry(jobId: string): Promise<TaskRow[] | null> {
    return this.withJob(jobId, async (trx) => {
      const job = await trx
        .selectFrom("pack_jobs")
        .selectAll()
        .where("id", "=", jobId)
        .executeTakeFirst();
      if (!job) return null;
      const failed = await trx
        .selectFrom("pack_tasks")
        .selectAll()
        .where("job_id", "=", jobId)
        .where("state", "=", "failed")
        .execute();
      if (failed.length === 0) return [];
      const now = this.now();
      await trx
        .updateTable("pack_tasks")
        .set({
          state: "queued",
          attempts: 0,
          error_code: null,
          error_message: null,
          owner: null,
          lease_until: 0,
          dispatched: 0,
          upload_checkpoint: null,
          updated_at: now,
        })
        .where("job_id", "=", jobId)
        .where("state", "=", "failed")
        .execute();
      await trx
        .updateTable("pack_jobs")
        .set({
          status: "running",
          round: job.round + 1,
          cancel_requested: 0,
          finished_at: null,
          updated_at: now,
        })
        .where("id", "=", jobId)
        .execute();
      return failed;
    });
  }

  /** Tasks not finished whose current message may be missing: never dispatched, or held by a dead worker. */
  async recoverable(ownerIsLive: (task: TaskRow) => boolean): Promise<TaskRow[]> {
    const rows = await this.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("state", "in", ["queued", "packing", "uploading"])
      .where((eb) => eb.or([eb("dispatched", "=", 0), eb("owner", "is not", null)]))
      .orderBy("job_id")
      .orderBy("seq")
      .execute();
    return rows.filter((row) => row.owner === null || !ownerIsLive(row));
  }

  /** Drops a dead owner so the next claim needs no liveness check; marks the task dispatched. */
  async resetOwner(row: TaskRow): Promise<void> {
    let update = this.db
      .updateTable("pack_tasks")
      .set({ owner: null, lease_until: 0, dispatched: 1 })
      .where("job_id", "=", row.job_id)
      .where("channel", "=", row.channel)
      .where("state", "=", row.state);
    update =
      row.owner === null
        ? update.where("owner", "is", null)
        : update.where("owner", "=", row.owner);
    await update.execute();
  }

  // --- notifications outbox --------------------------------------------------

  getNotification(id: string) {
    return this.db.selectFrom("notifications").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async markNotificationDispatched(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable("notifications")
      .set({ dispatched: 1 })
      .where("id", "in", ids)
      .execute();
  }

  async undispatchedNotifications(): Promise<{ id: string; jobId: string }[]> {
    const rows = await this.db
      .selectFrom("notifications")
      .select(["id", "job_id"])
      .where("state", "=", "pending")
      .where("dispatched", "=", 0)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => ({ id: r.id, jobId: r.job_id }));
  }

  async noteNotificationAttempt(id: string, error: string): Promise<void> {
    await this.db
      .updateTable("notifications")
      .set((eb) => ({ attempts: eb("attempts", "+", 1), last_error: error }))
      .where("id", "=", id)
      .execute();
  }

  /**
   * Settles one outbox row. A channel.done event is the channel's last stage:
   * once every notifier has it (or one gave up), the channel is done (or failed).
   */
  async settleNotification(
    id: string,
    outcome: { sent: true } | { sent: false; error: TaskError },
  ): Promise<string[]> {
    const row = await this.getNotification(id);
    if (!row || row.state !== "pending") return [];
    return this.withJob(row.job_id, async (trx) => {
      const now = this.now();
      const changed = await trx
        .updateTable("notifications")
        .set(
          outcome.sent
            ? { state: "sent", sent_at: now }
            : { state: "failed", last_error: outcome.error.message },
        )
        .where("id", "=", id)
        .where("state", "=", "pending")
        .executeTakeFirst();
      if (Number(changed.numUpdatedRows) !== 1 || row.channel === null) return [];
      const event = JSON.parse(row.event) as NotifyEvent;
      if (event.type !== "channel.done") return [];
      const siblings = await trx
        .selectFrom("notifications")
        .select("state")
        .where("event_id", "=", row.event_id)
        .execute();
      if (siblings.some((s) => s.state === "pending")) return [];
      const failed = !outcome.sent || siblings.some((s) => s.state === "failed");
      await trx
        .updateTable("pack_tasks")
        .set(
          failed
            ? {
                state: "failed",
                error_code: "E_NOTIFY_FAILED",
                error_message: `channel packed and uploaded, but notification ${row.event_id} was not delivered`,
                updated_at: now,
              }
            : { state: "done", error_code: null, error_message: null, updated_at: now },
        )
        .where("job_id", "=", row.job_id)
        .where("channel", "=", row.channel)
        .where("state", "=", "notifying")
        .execute();
      const job = await trx
        .selectFrom("pack_jobs")
        .selectAll()
        .where("id", "=", row.job_id)
        .executeTakeFirstOrThrow();
      return finishJobIfComplete(trx, job, now);
    });
  }
}

export function notifyTargetsOf(job: JobRow): string[] {
  return JSON.parse(job.notify_targets) as string[];
}

export const levelOf = (job: JobRow): NotifyLevel => job.notify_level as NotifyLevel;
