/**
 * Stage 3: deliver one outbox row to its notifier. At least once: a repeat
 * (after a crash between sending and recording) carries the same idempotency
 * key, `event.id`, so the receiver can drop it.
 */
import type { NotifyEvent } from "../notify/index.js";
import { backoffDelay, type Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";
import { classify } from "./failure.js";
import type { NotifyMessage } from "./model.js";

export async function handleNotify(
  ctx: PackerContext,
  delivery: Delivery<NotifyMessage>,
): Promise<void> {
  const row = await ctx.store.outbox.get(delivery.payload.notificationId);
  if (!row || row.state !== "pending") {
    await delivery.ack();
    return;
  }
  const job = await ctx.store.jobs.get(row.job_id);
  const queue = job?.queue ?? ctx.settings.defaultQueue;
  const log = ctx.logger.child({
    jobId: row.job_id,
    channel: row.channel ?? undefined,
    stage: "notify",
    notifier: row.notifier,
    eventId: row.event_id,
    attempt: delivery.attempt,
  });
  try {
    const sink = await ctx.sink(row.notifier);
    await sink.send(JSON.parse(row.event) as NotifyEvent);
    const next = await ctx.store.outbox.settle(row.id, { sent: true });
    await dispatchNotifications(ctx, queue, next);
    await delivery.ack();
    log.info({ event: "notified" }, "notification delivered");
  } catch (err) {
    const error = classify(err);
    if (ctx.signal.aborted) {
      await delivery.retry({ delayMs: 0 });
      return;
    }
    if (error.permanent || delivery.attempt >= ctx.settings.retry.maxAttempts) {
      const next = await ctx.store.outbox.settle(row.id, { sent: false, error });
      await dispatchNotifications(ctx, queue, next);
      await delivery.deadLetter(`${error.code}: ${error.message}`);
      log.error({ event: "notify-failed", err: error }, `notification given up: ${error.message}`);
    } else {
      await ctx.store.outbox.noteAttempt(row.id, `${error.code}: ${error.message}`);
      const delayMs = backoffDelay(delivery.attempt, ctx.settings.retry);
      await delivery.retry({ delayMs });
      log.warn(
        { event: "retry", err: error, delayMs },
        `notification failed; retrying in ${delayMs} ms`,
      );
    }
  }
  ctx.touched(row.job_id);
}
