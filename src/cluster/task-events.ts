/**
 * A finished task's `task.finished` event, put in the notifications outbox in
 * the transaction that finished the task — one row per notifier the task
 * names, when its level wants the event — and delivered by the notify stage
 * like pack-job events (at least once; `id` is the idempotency key).
 */
import type { Transaction } from "kysely";
import type { NotificationTable, Tables } from "../db/index.js";
import { shouldNotify, type NotifyEvent, type NotifyLevel } from "../notify/index.js";
import type { TaskResult } from "./model.js";
import type { TaskRow } from "./store/tasks.js";

export function taskFinishedEvent(row: TaskRow, baseUrl: string): NotifyEvent | null {
  if (
    row.status !== "done" &&
    row.status !== "failed" &&
    row.status !== "timed_out" &&
    row.status !== "cancelled"
  ) {
    return null;
  }
  const result = row.result === null ? null : (JSON.parse(row.result) as TaskResult);
  return {
    id: `${row.id}:finished:${row.attempts}`,
    type: "task.finished",
    taskId: row.id,
    tool: row.tool,
    pool: row.pool,
    status: row.status,
    error:
      row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? "" },
    exitCode: result?.exitCode ?? null,
    outputs: (result?.outputs ?? []).map((o) => ({
      path: o.path,
      sha256: o.sha256,
      size: o.size,
      url: `${baseUrl}${o.url}`,
    })),
    at: new Date(row.finished_at ?? Date.now()).toISOString(),
  };
}

/** Inserts the outbox rows of a finished task; returns their ids (to be queued after commit). */
export async function addTaskEvent(
  trx: Transaction<Tables>,
  row: TaskRow,
  baseUrl: string,
  now: number,
): Promise<string[]> {
  const level = row.notify_level as NotifyLevel;
  const event = taskFinishedEvent(row, baseUrl);
  if (!event || !shouldNotify(level, event)) return [];
  const ids: string[] = [];
  for (const notifier of JSON.parse(row.notify_targets) as string[]) {
    const outbox: NotificationTable = {
      id: `${event.id}|${notifier}`,
      event_id: event.id,
      job_id: row.id,
      channel: null,
      notifier,
      event: JSON.stringify(event),
      state: "pending",
      attempts: 0,
      last_error: null,
      dispatched: 0,
      created_at: now,
      sent_at: null,
    };
    await trx.insertInto("notifications").values(outbox).execute();
    ids.push(outbox.id);
  }
  return ids;
}
