/**
 * Settles a pack or upload attempt that threw: hand back at shutdown, fail the
 * channel (permanent, or out of attempts: dead letter + channel.failed event),
 * or retry later with backoff — failed packs through the pack-retry queue
 * (the original design's retry queue, with its own concurrency), uploads in
 * place. Attempts are the database's count (the task row), not the queue's:
 * crashes and repacks count too, and nothing resets them but an operator's retry.
 */
import type { Logger } from "../core/index.js";
import { backoffDelay, type Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";
import { classify } from "./failure.js";
import type { StageMessage } from "./model.js";
import { OWNER } from "./owner.js";
import type { JobRow, TaskRow } from "./store/index.js";
import { channelFailed, moveHeldTask } from "./transition.js";

export async function settleStageFailure(
  ctx: PackerContext,
  delivery: Delivery<StageMessage>,
  job: JobRow,
  task: TaskRow,
  stage: "pack" | "upload",
  err: unknown,
  log: Logger,
): Promise<void> {
  const ref = delivery.payload;
  const retryState = stage === "pack" ? "queued" : "uploading";
  if (ctx.signal.aborted) {
    log.info({ event: "handed-back" }, `${stage} interrupted by shutdown; it resumes on restart`);
    await ctx.store.tasks.release(ref, OWNER, retryState, null);
    await delivery.retry({ delayMs: 0 });
    return;
  }
  const error = classify(err);
  const { maxAttempts } = ctx.settings.retry;
  // This start included: the starts of this channel that did not finish.
  const unfinished = task.attempts - task.succeeded;
  if (error.permanent || unfinished >= maxAttempts) {
    const result = await moveHeldTask(
      ctx,
      ref,
      "failed",
      { error_code: error.code, error_message: error.message },
      channelFailed(ref, error, task.attempts),
    );
    log.error(
      { event: "channel-failed", err: error, permanent: error.permanent },
      `${stage} failed for good: ${error.code}: ${error.message}`,
    );
    await dispatchNotifications(ctx, job.queue, result.notifications);
    await delivery.deadLetter(`${error.code}: ${error.message}`);
    ctx.touched(job.id);
    return;
  }
  const delayMs = backoffDelay(unfinished, ctx.settings.retry);
  await ctx.store.tasks.release(ref, OWNER, retryState, error);
  log.warn(
    { event: "retry", err: error, delayMs },
    `${stage} failed (${error.code}: ${error.message}); retrying in ${delayMs} ms`,
  );
  if (stage === "pack") {
    await ctx.queues(job.queue).packRetry.enqueue(ref, { delayMs, attempt: unfinished + 1 });
    await delivery.ack();
  } else {
    await delivery.retry({ delayMs });
  }
  await ctx.store.tasks.markDispatched(ref, retryState);
  ctx.touched(job.id);
}
