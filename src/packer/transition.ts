/**
 * A channel's state change as one transaction of its job: the task moves,
 * its event (if any) enters the outbox, and the job finishes if this was its
 * last channel. Returns the outbox rows to queue once committed.
 */
import type { NotifyEvent } from "../notify/index.js";
import type { PackerContext } from "./context.js";
import type { TaskRef, TaskState } from "./model.js";
import { OWNER } from "./owner.js";
import { selectJob, type JobRow, type TaskError, type TaskRow, type Trx } from "./store/index.js";

export interface Transitioned {
  moved: boolean;
  notifications: string[];
}

/** Outbox work of a transition: the channel's event, then the job's end if it came. */
function outboxWork(
  ctx: PackerContext,
  ref: TaskRef,
  event: ((job: JobRow) => NotifyEvent) | null,
  ids: string[],
) {
  return async (trx: Trx): Promise<void> => {
    const job = await selectJob(trx, ref.jobId);
    if (!job) return;
    if (event) ids.push(...(await ctx.store.outbox.add(trx, job, event(job), ref.channel)));
    ids.push(...(await ctx.store.outbox.finishJobIfComplete(trx, job)));
  };
}

/** Moves a task this process holds to `to` and releases it. */
export async function moveHeldTask(
  ctx: PackerContext,
  ref: TaskRef,
  to: TaskState,
  fields: Partial<TaskRow> & { finished?: boolean },
  event: ((job: JobRow) => NotifyEvent) | null = null,
): Promise<Transitioned> {
  const ids: string[] = [];
  const moved = await ctx.store.tasks.advance(
    ref,
    OWNER,
    to,
    fields,
    outboxWork(ctx, ref, event, ids),
  );
  return { moved, notifications: moved ? ids : [] };
}

/** The channel.failed event of a channel that failed for good. */
export function channelFailed(
  ref: TaskRef,
  error: TaskError,
  attempts: number,
): (job: JobRow) => NotifyEvent {
  return (job) => ({
    id: `${job.id}:${ref.channel}:failed:${job.round}`,
    type: "channel.failed",
    jobId: job.id,
    apk: job.apk,
    channel: ref.channel,
    error: { code: error.code, message: error.message },
    attempts,
    at: new Date().toISOString(),
  });
}

/** Fails a task nobody holds whose starts ran out (claim answered "exhausted"). */
export async function failExhausted(ctx: PackerContext, task: TaskRow): Promise<Transitioned> {
  const ref = { jobId: task.job_id, channel: task.channel };
  const unfinished = task.attempts - task.succeeded;
  const error: TaskError = {
    code: "E_ATTEMPTS_EXHAUSTED",
    message: `work on this channel was started ${unfinished} times without finishing (packer.retry.maxAttempts = ${ctx.settings.retry.maxAttempts})${task.error_code ? `; last error ${task.error_code}: ${task.error_message ?? ""}` : "; the worker died each time"}`,
  };
  const ids: string[] = [];
  const moved = await ctx.store.tasks.failUnheld(
    ref,
    error,
    outboxWork(ctx, ref, channelFailed(ref, error, task.attempts), ids),
  );
  return { moved, notifications: moved ? ids : [] };
}
