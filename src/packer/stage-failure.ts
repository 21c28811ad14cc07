/**
 * Settles a pack or upload attempt that threw: hand back at shutdown, fail the
 * channel (permanent, or out of attempts: dead letter + channel.failed event),
 * or retry later with backoff — failed packs through the pack-retry queue
 * (design note 001's retry queue, with its own concurrency), uploads in place.
 */
import type { Logger } from "../core/index.js";
import { backoffDelay, type Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";
import { classify } from "./failure.js";
import type { StageMessage } from "./model.js";
import { OWNER } from "./owner.js";
import type { JobRow, TaskRow } from "./store.js";

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
    await ctx.store.release(ref, OWNER, retryState, null);
    await delivery.retry({ delayMs: 0 });
    return;
  }
  const error = classify(err);
  const { maxAttempts } = ctx.settings.retry;
  if (error.permanent || delivery.attempt >= maxAttempts) {
    const attempts = task.attempts + 1;
    const result = await ctx.store.advance(
      ref,
      OWNER,
      "failed",
      { error_code: error.code, error_message: error.message, attempts },
      (trx, current) =>
        ctx.store.addEvent(
          trx,
          current,
          {
            id: `${job.id}:${ref.channel}:failed:${current.round}`,
            type: "channel.failed",
            jobId: job.id,
            apk: job.apk,
            channel: ref.channel,
            error: { code: error.code, message: error.message },
            attempts,
            at: new Date().toISOString(),
          },
          ref.channel,
        ),
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
  const delayMs = backoffDelay(delivery.attempt, ctx.settings.retry);
  await ctx.store.release(ref, OWNER, retryState, error);
  log.warn(
    { event: "retry", err: error, delayMs },
    `${stage} failed (${error.code}: ${error.message}); retrying in ${delayMs} ms`,
  );
  if (stage === "pack") {
    await ctx.queues(job.queue).packRetry.enqueue(ref, { delayMs, attempt: delivery.attempt + 1 });
    await delivery.ack();
  } else {
    await delivery.retry({ delayMs });
  }
  await ctx.store.markDispatched(ref, retryState);
  ctx.touched(job.id);
}
