/**
 * Task leases: a channel's work is held by one process at a time (owner +
 * lease, renewed while it works), moved from state to state, and counted.
 *
 * `attempts` grows by one every time a handler claims the task — pack, upload,
 * a repack after a lost work file, a redelivery after a crash — and nothing
 * but an operator's retry resets it. With `succeeded` (stages finished) it
 * bounds how often a channel is started without finishing: a message that
 * kills its process every time ends failed instead of looping, whatever the
 * queue driver can count (RabbitMQ cannot count redeliveries).
 */
import type { TaskRef, TaskState } from "../model.js";
import { currentSeq, type StoreBase, type TaskError, type TaskRow, type Trx } from "./base.js";

export type ClaimResult =
  | { kind: "claimed"; task: TaskRow }
  /** Gone, in another state, or held by a live owner: the message is a duplicate. */
  | { kind: "skipped" }
  /** Started too often without finishing: the caller fails the channel. */
  | { kind: "exhausted"; task: TaskRow };

export interface ClaimOptions {
  from: readonly TaskState[];
  to: TaskState;
  owner: string;
  leaseMs: number;
  /** Starts that did not finish, at most; one more and the claim answers "exhausted". */
  maxUnfinished: number;
  ownerIsLive: (owner: string, leaseUntil: number) => boolean;
}

const byRef = (ref: TaskRef) => ({ job: ref.jobId, channel: ref.channel });

export class TaskLeases {
  constructor(private readonly base: StoreBase) {}

  get(ref: TaskRef): Promise<TaskRow | undefined> {
    const { job, channel } = byRef(ref);
    return this.base.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("job_id", "=", job)
      .where("channel", "=", channel)
      .executeTakeFirst();
  }

  /** The channel of job `jobId` whose output file is `fileName` (unique in a job). */
  byFileName(jobId: string, fileName: string): Promise<TaskRow | undefined> {
    return this.base.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("file_name", "=", fileName)
      .executeTakeFirst();
  }

  /**
   * Takes the task for a stage, in the job's transaction: only if it is in one
   * of `from` and nobody live holds it. Counts the start; refuses to start a
   * task that has run out of starts.
   */
  async claim(ref: TaskRef, options: ClaimOptions): Promise<ClaimResult> {
    const { now } = this.base;
    return this.base.withJob(ref.jobId, async (trx) => {
      const task = await trx
        .selectFrom("pack_tasks")
        .selectAll()
        .where("job_id", "=", ref.jobId)
        .where("channel", "=", ref.channel)
        .executeTakeFirst();
      if (!task || !options.from.includes(task.state)) return { kind: "skipped" } as const;
      // Held by a live process — possibly this one, when recovery re-queued a task
      // the queue also redelivered — so this message is a duplicate.
      if (task.owner !== null && options.ownerIsLive(task.owner, task.lease_until)) {
        return { kind: "skipped" } as const;
      }
      if (task.attempts - task.succeeded >= options.maxUnfinished) {
        return { kind: "exhausted", task } as const;
      }
      const at = now();
      const claimed: TaskRow = {
        ...task,
        state: options.to,
        owner: options.owner,
        lease_until: at + options.leaseMs,
        attempts: task.attempts + 1,
        updated_at: at,
      };
      await trx
        .updateTable("pack_tasks")
        .set({
          state: claimed.state,
          owner: claimed.owner,
          lease_until: claimed.lease_until,
          attempts: claimed.attempts,
          updated_at: at,
          changed_seq: currentSeq(ref.jobId),
        })
        .where("job_id", "=", ref.jobId)
        .where("channel", "=", ref.channel)
        .execute();
      if (task.state === "queued") {
        await trx
          .updateTable("pack_jobs")
          .set({ status: "running" })
          .where("id", "=", ref.jobId)
          .where("status", "=", "queued")
          .execute();
      }
      return { kind: "claimed", task: claimed } as const;
    });
  }

  /** Extends the leases of every task `owner` holds (not a visible change). */
  async renewLeases(owner: string, leaseMs: number): Promise<void> {
    await this.base.db
      .updateTable("pack_tasks")
      .set({ lease_until: this.base.now() + leaseMs })
      .where("owner", "=", owner)
      .execute();
  }

  /** Marks that a message for the task's current state is in its queue. */
  async markDispatched(ref: TaskRef, state: TaskState): Promise<void> {
    await this.base.db
      .updateTable("pack_tasks")
      .set({ dispatched: 1 })
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .where("state", "=", state)
      .execute();
  }

  async saveCheckpoint(ref: TaskRef, owner: string, checkpoint: unknown): Promise<void> {
    await this.base.db
      .updateTable("pack_tasks")
      .set({ upload_checkpoint: JSON.stringify(checkpoint), updated_at: this.base.now() })
      .where("job_id", "=", ref.jobId)
      .where("channel", "=", ref.channel)
      .where("owner", "=", owner)
      .execute();
  }

  /**
   * Moves a held task to its next state and releases it, in the job's
   * transaction; `within` adds outbox rows in the same transaction. moved is
   * false if the task is no longer this owner's (another worker recovered it).
   * `finished`: the stage completed (counts toward `succeeded`).
   */
  async advance(
    ref: TaskRef,
    owner: string,
    to: TaskState,
    fields: Partial<TaskRow> & { finished?: boolean } = {},
    within?: (trx: Trx) => Promise<void>,
  ): Promise<boolean> {
    const { finished = false, ...columns } = fields;
    return this.base.withJob(ref.jobId, async (trx) => {
      const result = await trx
        .updateTable("pack_tasks")
        .set((eb) => ({
          ...columns,
          state: to,
          owner: null,
          lease_until: 0,
          dispatched: 0,
          updated_at: this.base.now(),
          changed_seq: currentSeq(ref.jobId),
          ...(finished ? { succeeded: eb("succeeded", "+", 1) } : {}),
        }))
        .where("job_id", "=", ref.jobId)
        .where("channel", "=", ref.channel)
        .where("owner", "=", owner)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await within?.(trx);
      return true;
    });
  }

  /**
   * Fails a task that is not held (its starts ran out before a claim), in the
   * job's transaction. False if it was taken or settled meanwhile.
   */
  async failUnheld(ref: TaskRef, error: TaskError, within?: (trx: Trx) => Promise<void>) {
    return this.base.withJob(ref.jobId, async (trx) => {
      const result = await trx
        .updateTable("pack_tasks")
        .set({
          state: "failed",
          error_code: error.code,
          error_message: error.message,
          owner: null,
          lease_until: 0,
          dispatched: 0,
          updated_at: this.base.now(),
          changed_seq: currentSeq(ref.jobId),
        })
        .where("job_id", "=", ref.jobId)
        .where("channel", "=", ref.channel)
        .where("state", "not in", ["done", "failed", "notifying"])
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await within?.(trx);
      return true;
    });
  }

  /**
   * Hands a held task back for a later attempt: to `state`, unowned. `error`
   * null: handed back at shutdown (the start still counted, as a crash would).
   */
  async release(
    ref: TaskRef,
    owner: string,
    state: TaskState,
    error: TaskError | null,
  ): Promise<void> {
    await this.base.withJob(ref.jobId, async (trx) => {
      await trx
        .updateTable("pack_tasks")
        .set({
          state,
          owner: null,
          lease_until: 0,
          dispatched: 0,
          updated_at: this.base.now(),
          changed_seq: currentSeq(ref.jobId),
          ...(error === null ? {} : { error_code: error.code, error_message: error.message }),
        })
        .where("job_id", "=", ref.jobId)
        .where("channel", "=", ref.channel)
        .where("owner", "=", owner)
        .execute();
    });
  }

  /**
   * Unfinished tasks whose current message may be missing — never
   * dispatched, or held by a dead worker — a page at a time (after the key
   * `after`), so recovery never holds every task of every job in memory.
   */
  async recoverable(
    isHeldByLive: (task: TaskRow) => boolean,
    page: { after: { jobId: string; seq: number } | null; limit: number },
  ): Promise<{ rows: TaskRow[]; last: { jobId: string; seq: number } | null }> {
    let query = this.base.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("state", "in", ["queued", "packing", "uploading"])
      .where((eb) => eb.or([eb("dispatched", "=", 0), eb("owner", "is not", null)]));
    const after = page.after;
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb("job_id", ">", after.jobId),
          eb.and([eb("job_id", "=", after.jobId), eb("seq", ">", after.seq)]),
        ]),
      );
    }
    const rows = await query.orderBy("job_id").orderBy("seq").limit(page.limit).execute();
    const tail = rows.at(-1);
    return {
      rows: rows.filter((row) => row.owner === null || !isHeldByLive(row)),
      last: rows.length < page.limit || !tail ? null : { jobId: tail.job_id, seq: tail.seq },
    };
  }

  /** Drops a dead owner so the next claim needs no liveness check; marks the task dispatched. */
  async resetOwner(row: TaskRow): Promise<void> {
    let update = this.base.db
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
}
