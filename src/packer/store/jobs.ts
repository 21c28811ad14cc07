/**
 * Jobs and their channels as clients see them: create (the job row and one
 * task row per channel in one transaction; shared extras once, on the job),
 * read a page of channels, per-state counts, what changed since a sequence
 * number, cancel and retry. Nothing here reads every channel of a job at once:
 * a job may have tens of thousands.
 */
import type { JobStatus, NewJob, TaskState } from "../model.js";
import { TASK_STATES } from "../model.js";
import {
  currentSeq,
  selectJob,
  type JobRow,
  type StoreBase,
  type TaskRow,
  type Trx,
} from "./base.js";

/** Task rows per INSERT: SQLite allows at most 32766 bound parameters per statement. */
const INSERT_BATCH = 500;

export type StateCounts = Record<TaskState, number> & { total: number };

export function emptyCounts(): StateCounts {
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  return { ...counts, total: 0 };
}

/** A position in a job's changes: after channel `pos` of change `seq`. */
export interface ChangeCursor {
  seq: number;
  pos: number;
}

/** Past every channel position (`seq` is a 32-bit integer column). */
const LAST_POSITION = 2 ** 31 - 1;

/** Every change up to and including `seq`. */
export const afterChange = (seq: number): ChangeCursor => ({ seq, pos: LAST_POSITION });

export interface ChannelPage {
  rows: TaskRow[];
  /** seq of the last row when more may follow, else null. */
  next: number | null;
}

/** The row a new job is stored as (and, before any worker took it, read back as). */
export function newJobRow(job: NewJob, now: number): JobRow {
  return {
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
    // Shared extras once, on the job: never copied into each channel's row.
    extras: Object.keys(job.sharedExtras).length > 0 ? JSON.stringify(job.sharedExtras) : null,
    change_seq: 0,
    mother_sha256: null,
    created_at: now,
    updated_at: now,
    finished_at: null,
  };
}

/** The rows of channels `from` to `to` (exclusive) of a new job. */
export function newTaskRows(job: NewJob, now: number, from: number, to: number): TaskRow[] {
  return job.channels.slice(from, to).map((c, j) => ({
    job_id: job.id,
    channel: c.channel,
    seq: from + j,
    extras: JSON.stringify(c.extras),
    state: "queued",
    attempts: 0,
    succeeded: 0,
    changed_seq: 0,
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
  }));
}

export class JobStore {
  constructor(private readonly base: StoreBase) {}

  /** Stores the job and its channels in one transaction; returns its creation time. */
  async create(job: NewJob): Promise<number> {
    const now = this.base.now();
    await this.base.db.transaction().execute(async (trx) => {
      await trx.insertInto("pack_jobs").values(newJobRow(job, now)).execute();
      for (let i = 0; i < job.channels.length; i += INSERT_BATCH) {
        await trx
          .insertInto("pack_tasks")
          .values(newTaskRows(job, now, i, i + INSERT_BATCH))
          .execute();
      }
    });
    return now;
  }

  get(id: string): Promise<JobRow | undefined> {
    return selectJob(this.base.db, id);
  }

  async list(filter: {
    status?: JobStatus | undefined;
    limit: number;
    offset: number;
  }): Promise<{ rows: JobRow[]; total: number }> {
    let query = this.base.db.selectFrom("pack_jobs");
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

  /** Channels per state of each job (one grouped query for all). */
  async counts(jobIds: string[], db: Trx | StoreBase["db"] = this.base.db) {
    const out = new Map<string, StateCounts>();
    if (jobIds.length === 0) return out;
    const rows = await db
      .selectFrom("pack_tasks")
      .select(["job_id", "state", (eb) => eb.fn.countAll<number | string>().as("n")])
      .where("job_id", "in", jobIds)
      .groupBy(["job_id", "state"])
      .execute();
    for (const id of jobIds) out.set(id, emptyCounts());
    for (const row of rows) {
      const counts = out.get(row.job_id) ?? emptyCounts();
      counts[row.state] = Number(row.n);
      counts.total += Number(row.n);
      out.set(row.job_id, counts);
    }
    return out;
  }

  /** Channels in request order, `limit` after `after` (a seq), optionally of one state. */
  async channelPage(
    jobId: string,
    page: { after: number | null; limit: number; state?: TaskState | undefined },
    db: Trx | StoreBase["db"] = this.base.db,
  ): Promise<ChannelPage> {
    let query = db.selectFrom("pack_tasks").selectAll().where("job_id", "=", jobId);
    if (page.after !== null) query = query.where("seq", ">", page.after);
    if (page.state) query = query.where("state", "=", page.state);
    // One extra row tells whether another page follows.
    const rows = await query
      .orderBy("seq")
      .limit(page.limit + 1)
      .execute();
    const more = rows.length > page.limit;
    const kept = more ? rows.slice(0, page.limit) : rows;
    return { rows: kept, next: more ? (kept.at(-1)?.seq ?? null) : null };
  }

  /**
   * The job, its counts and a page of channels as of one moment: read in one
   * transaction, so the status, the counts and the channels agree.
   */
  snapshot(
    jobId: string,
    page: { after: number | null; limit: number; state?: TaskState | undefined },
  ): Promise<{ job: JobRow; counts: StateCounts; page: ChannelPage } | null> {
    return this.base.db
      .transaction()
      .setIsolationLevel("repeatable read")
      .execute(async (trx) => {
        const job = await selectJob(trx, jobId);
        if (!job) return null;
        const counts = (await this.counts([jobId], trx)).get(jobId) ?? emptyCounts();
        return { job, counts, page: await this.channelPage(jobId, page, trx) };
      });
  }

  /**
   * Channels whose visible state changed after `after`, oldest change first,
   * at most `limit`. One change (a cancel) can stamp many channels with the
   * same sequence number, so the position is (changed_seq, seq): pass the
   * last row's pair to read on.
   */
  changedSince(jobId: string, after: ChangeCursor, limit: number): Promise<TaskRow[]> {
    return this.base.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("job_id", "=", jobId)
      .where((eb) =>
        eb.or([
          eb("changed_seq", ">", after.seq),
          eb.and([eb("changed_seq", "=", after.seq), eb("seq", ">", after.pos)]),
        ]),
      )
      .orderBy("changed_seq")
      .orderBy("seq")
      .limit(limit)
      .execute();
  }

  /**
   * Requests cancellation: channels not yet started fail with E_CANCELLED at
   * once, the others finish their current stage. `notifications`: outbox rows
   * to queue (the job may have finished).
   */
  async cancel(
    jobId: string,
    finish: (trx: Trx, job: JobRow) => Promise<string[]>,
  ): Promise<{ found: boolean; finished: boolean; notifications: string[] }> {
    return this.base.withJob(jobId, async (trx) => {
      const job = await selectJob(trx, jobId);
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
          updated_at: this.base.now(),
          changed_seq: currentSeq(jobId),
        })
        .where("job_id", "=", jobId)
        .where("state", "=", "queued")
        .where("owner", "is", null)
        .execute();
      const notifications = await finish(trx, { ...job, cancel_requested: 1 });
      return { found: true, finished: false, notifications };
    });
  }

  /**
   * Records the mother a job's channels compose from, before it is looked
   * for on the target: from then on the mother sweep keeps it.
   */
  async recordMother(jobId: string, sha256: string): Promise<void> {
    await this.base.db
      .updateTable("pack_jobs")
      .set({ mother_sha256: sha256 })
      .where("id", "=", jobId)
      .execute();
  }

  /**
   * Whether a job still needs the mother `sha256` on `target`: `unfinished`
   * jobs use it; otherwise the last of them finished at `lastFinishedAt`
   * (null: no job recorded it).
   */
  async motherUse(
    target: string,
    sha256: string,
  ): Promise<{ unfinished: number; lastFinishedAt: number | null }> {
    const row = await this.base.db
      .selectFrom("pack_jobs")
      .select((eb) => [
        eb.fn.countAll<number | string>().as("jobs"),
        eb.fn.count<number | string>("finished_at").as("finished"),
        eb.fn.max<number | string | null>("finished_at").as("last"),
      ])
      .where("target", "=", target)
      .where("mother_sha256", "=", sha256)
      .executeTakeFirst();
    const jobs = Number(row?.jobs ?? 0);
    const last = row?.last ?? null;
    return {
      unfinished: jobs - Number(row?.finished ?? 0),
      lastFinishedAt: last === null ? null : Number(last),
    };
  }

  /** The job whose key space ("<prefix><job id>/") is exactly `prefix` on `target`. */
  byPrefix(target: string, prefix: string): Promise<JobRow | undefined> {
    return this.base.db
      .selectFrom("pack_jobs")
      .selectAll()
      .where("target", "=", target)
      .where("prefix", "=", prefix)
      .executeTakeFirst();
  }

  /**
   * Re-queues the failed channels of a job — an operator's decision, so their
   * attempts start over — and returns how many. The caller dispatches them
   * (queuedUndispatched) or leaves them to the recovery sweep.
   */
  async retry(jobId: string): Promise<number | null> {
    return this.base.withJob(jobId, async (trx) => {
      const job = await selectJob(trx, jobId);
      if (!job) return null;
      const now = this.base.now();
      const result = await trx
        .updateTable("pack_tasks")
        .set({
          state: "queued",
          attempts: 0,
          succeeded: 0,
          error_code: null,
          error_message: null,
          owner: null,
          lease_until: 0,
          dispatched: 0,
          upload_checkpoint: null,
          updated_at: now,
          changed_seq: currentSeq(jobId),
        })
        .where("job_id", "=", jobId)
        .where("state", "=", "failed")
        .executeTakeFirst();
      const requeued = Number(result.numUpdatedRows);
      if (requeued === 0) return 0;
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
      return requeued;
    });
  }

  /** Queued channels of a job with no message in their queue, a page at a time. */
  queuedUndispatched(jobId: string, afterSeq: number, limit: number): Promise<TaskRow[]> {
    return this.base.db
      .selectFrom("pack_tasks")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("state", "=", "queued")
      .where("dispatched", "=", 0)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
  }
}
