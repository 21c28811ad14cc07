/**
 * A job finishes when its last channel does: its status becomes done (every
 * channel done), failed (none done), partial (some of each) or cancelled (a
 * cancel was requested), and a job.finished event goes to the outbox when the
 * job's level wants one. Runs inside the transaction that settled the channel.
 */
import type { Transaction } from "kysely";
import type { NotificationTable, PackJobTable, Tables } from "../db/index.js";
import { shouldNotify, type NotifyEvent, type NotifyLevel } from "../notify/index.js";
import type { JobStatus } from "./model.js";

type Trx = Transaction<Tables>;

export function finalStatus(done: number, failed: number, cancelled: boolean): JobStatus {
  if (cancelled) return "cancelled";
  if (failed === 0) return "done";
  return done === 0 ? "failed" : "partial";
}

/** One outbox row per notifier named by the job, if its level wants this event. */
export function outboxRowsFor(
  job: PackJobTable,
  event: NotifyEvent,
  channel: string | null,
  now: number,
): NotificationTable[] {
  if (!shouldNotify(job.notify_level as NotifyLevel, event)) return [];
  const notifiers = JSON.parse(job.notify_targets) as string[];
  return notifiers.map((notifier) => ({
    id: `${event.id}|${notifier}`,
    event_id: event.id,
    job_id: job.id,
    channel,
    notifier,
    event: JSON.stringify(event),
    state: "pending",
    attempts: 0,
    last_error: null,
    dispatched: 0,
    created_at: now,
    sent_at: null,
  }));
}

/** Returns the ids of new outbox rows (to be queued after commit). */
export async function finishJobIfComplete(
  trx: Trx,
  job: PackJobTable,
  now: number,
): Promise<string[]> {
  if (job.finished_at !== null) return [];
  const tasks = await trx
    .selectFrom("pack_tasks")
    .select(["channel", "state", "error_code", "error_message"])
    .where("job_id", "=", job.id)
    .execute();
  if (tasks.some((t) => t.state !== "done" && t.state !== "failed")) return [];
  const failedTasks = tasks.filter((t) => t.state === "failed");
  const cancelledCount = failedTasks.filter((t) => t.error_code === "E_CANCELLED").length;
  const done = tasks.length - failedTasks.length;
  const status = finalStatus(done, failedTasks.length, job.cancel_requested === 1);
  const changed = await trx
    .updateTable("pack_jobs")
    .set({ status, finished_at: now, updated_at: now })
    .where("id", "=", job.id)
    .where("finished_at", "is", null)
    .executeTakeFirst();
  if (Number(changed.numUpdatedRows) !== 1) return [];
  const event: NotifyEvent = {
    id: `${job.id}:finished:${job.round}`,
    type: "job.finished",
    jobId: job.id,
    apk: job.apk,
    status: status as "done" | "partial" | "failed" | "cancelled",
    counts: {
      done,
      failed: failedTasks.length - cancelledCount,
      cancelled: cancelledCount,
      total: tasks.length,
    },
    failed: failedTasks
      .filter((t) => t.error_code !== "E_CANCELLED")
      .map((t) => ({
        channel: t.channel,
        code: t.error_code ?? "E_INTERNAL",
        message: t.error_message ?? "",
      })),
    at: new Date(now).toISOString(),
  };
  return insertOutbox(trx, outboxRowsFor(job, event, null, now));
}

/**
 * Inserts rows not there yet (a repeated event keeps its first row) and returns
 * the ids inserted: those are for the caller to queue; an older row is queued
 * by whoever inserted it, or by the recovery sweep.
 */
export async function insertOutbox(trx: Trx, rows: NotificationTable[]): Promise<string[]> {
  const inserted: string[] = [];
  for (const row of rows) {
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
