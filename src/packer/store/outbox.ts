/**
 * The notification outbox: events are inserted in the transaction that
 * caused them (so a committed transition always has its notifications), then
 * queued, delivered and settled. A channel.done event is the channel's last
 * stage: once every notifier has it (or one gave up), the channel is done (or
 * failed). A job finishes when its last channel does (finishJobIfComplete).
 */
import type { NotificationTable } from "../../db/index.js";
import { shouldNotify, type NotifyEvent, type NotifyLevel } from "../../notify/index.js";
import type { JobStatus } from "../model.js";
import {
  currentSeq,
  selectJob,
  type JobRow,
  type StoreBase,
  type TaskError,
  type Trx,
} from "./base.js";

/** A job.finished event lists at most this many failed channels; `counts` has the totals. */
export const MAX_FAILED_LISTED = 100;

export function finalStatus(done: number, failed: number, cancelled: boolean): JobStatus {
  if (cancelled) return "cancelled";
  if (failed === 0) return "done";
  return done === 0 ? "failed" : "partial";
}

export function notifyTargetsOf(job: JobRow): string[] {
  return JSON.parse(job.notify_targets) as string[];
}

export const levelOf = (job: JobRow): NotifyLevel => job.notify_level as NotifyLevel;

/** One outbox row per notifier named by the job, if its level wants this event. */
function outboxRowsFor(
  job: JobRow,
  event: NotifyEvent,
  channel: string | null,
  now: number,
): NotificationTable[] {
  if (!shouldNotify(levelOf(job), event)) return [];
  return notifyTargetsOf(job).map((notifier) => ({
    id: `${event.id}|${notifier}`,
    event_id: event.id,
    job_id: job.id,
    channel,
    notifier,
    event: JSON.stringify(event),
    state: "pending" as const,
    attempts: 0,
    last_error: null,
    dispatched: 0,
    created_at: now,
    sent_at: null,
  }));
}

export class Outbox {
  constructor(private readonly base: StoreBase) {}

  get(id: string) {
    return this.base.db
      .selectFrom("notifications")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /**
   * Adds the rows of `event` not there yet (a repeated event keeps its first
   * row) and returns the ids inserted: those are for the caller to queue after
   * commit; an older row is queued by whoever inserted it, or by recovery.
   */
  async add(trx: Trx, job: JobRow, event: NotifyEvent, channel: string | null): Promise<string[]> {
    const inserted: string[] = [];
    for (const row of outboxRowsFor(job, event, channel, this.base.now())) {
      const exists = await trx
        .selectFrom("notifications")
        .select("id")
        .where("id", "=", row.id)
        .executeTakeFirst();
      if (exists) continue;
      await trx.insertInto("notifications").values(row).execute();
      inserted.push(row.id);
    }
    return inserted;
  }

  /**
   * Finishes the job if every channel is done or failed: its status, and a
   * job.finished event when its level wants one. Counts by state; reads only
   * the first failed channels for the event. Returns outbox ids to queue.
   */
  async finishJobIfComplete(trx: Trx, job: JobRow): Promise<string[]> {
    if (job.finished_at !== null) return [];
    const rows = await trx
      .selectFrom("pack_tasks")
      .select([
        "state",
        (eb) => eb.fn.countAll<number | string>().as("n"),
        (eb) =>
          eb.fn
            .sum<number | string>(
              eb.case().when("error_code", "=", "E_CANCELLED").then(1).else(0).end(),
            )
            .as("cancelled"),
      ])
      .where("job_id", "=", job.id)
      .groupBy("state")
      .execute();
    if (rows.some((r) => r.state !== "done" && r.state !== "failed")) return [];
    const failedRow = rows.find((r) => r.state === "failed");
    const failedAll = Number(failedRow?.n ?? 0);
    const cancelled = Number(failedRow?.cancelled ?? 0);
    const done = Number(rows.find((r) => r.state === "done")?.n ?? 0);
    const now = this.base.now();
    const status = finalStatus(done, failedAll, job.cancel_requested === 1);
    const changed = await trx
      .updateTable("pack_jobs")
      .set({ status, finished_at: now, updated_at: now })
      .where("id", "=", job.id)
      .where("finished_at", "is", null)
      .executeTakeFirst();
    if (Number(changed.numUpdatedRows) !== 1) return [];
    if (levelOf(job) === "none") return [];
    const failedListed = await trx
      .selectFrom("pack_tasks")
      .select(["channel", "error_code", "error_message"])
      .where("job_id", "=", job.id)
      .where("state", "=", "failed")
      .where((eb) => eb.or([eb("error_code", "is", null), eb("error_code", "!=", "E_CANCELLED")]))
      .orderBy("seq")
      .limit(MAX_FAILED_LISTED)
      .execute();
    const event: NotifyEvent = {
      id: `${job.id}:finished:${job.round}`,
      type: "job.finished",
      jobId: job.id,
      apk: job.apk,
      status: status as "done" | "partial" | "failed" | "cancelled",
      counts: { done, failed: failedAll - cancelled, cancelled, total: done + failedAll },
      failed: failedListed.map((t) => ({
        channel: t.channel,
        code: t.error_code ?? "E_INTERNAL",
        message: t.error_message ?? "",
      })),
      at: new Date(now).toISOString(),
    };
    return this.add(trx, job, event, null);
  }

  async markDispatched(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.base.db
      .updateTable("notifications")
      .set({ dispatched: 1 })
      .where("id", "in", ids)
      .execute();
  }

  /** Pending rows with no message in a queue, oldest first, at most `limit`. */
  async undispatched(limit: number): Promise<{ id: string; jobId: string }[]> {
    const rows = await this.base.db
      .selectFrom("notifications")
      .select(["id", "job_id"])
      .where("state", "=", "pending")
      .where("dispatched", "=", 0)
      .orderBy("created_at")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, jobId: r.job_id }));
  }

  async noteAttempt(id: string, error: string): Promise<void> {
    await this.base.db
      .updateTable("notifications")
      .set((eb) => ({ attempts: eb("attempts", "+", 1), last_error: error }))
      .where("id", "=", id)
      .execute();
  }

  /** Settles one row; a channel.done row that was the channel's last settles the channel. */
  async settle(
    id: string,
    outcome: { sent: true } | { sent: false; error: TaskError },
  ): Promise<string[]> {
    const row = await this.get(id);
    if (!row || row.state !== "pending") return [];
    return this.base.withJob(row.job_id, async (trx) => {
      const now = this.base.now();
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
                changed_seq: currentSeq(row.job_id),
              }
            : {
                state: "done",
                error_code: null,
                error_message: null,
                updated_at: now,
                changed_seq: currentSeq(row.job_id),
              },
        )
        .where("job_id", "=", row.job_id)
        .where("channel", "=", row.channel)
        .where("state", "=", "notifying")
        .execute();
      const job = await selectJob(trx, row.job_id);
      return job ? this.finishJobIfComplete(trx, job) : [];
    });
  }
}
