/**
 * The start of a pack or upload attempt: find the job, claim the task in the
 * database (which counts the start), and deal with the messages that bring
 * no work — a duplicate is acked; a task whose starts ran out is failed for
 * good (E_ATTEMPTS_EXHAUSTED) and its message dead-lettered.
 */
import type { Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";
import type { StageMessage, TaskState } from "./model.js";
import { OWNER } from "./owner.js";
import type { JobRow, TaskRow } from "./store/index.js";
import { failExhausted } from "./transition.js";

export async function claimForStage(
  ctx: PackerContext,
  delivery: Delivery<StageMessage>,
  from: readonly TaskState[],
  to: TaskState,
): Promise<{ job: JobRow; task: TaskRow } | null> {
  const ref = delivery.payload;
  const job = await ctx.store.jobs.get(ref.jobId);
  if (!job) {
    await delivery.ack(); // the job is gone: nothing to do
    return null;
  }
  const result = await ctx.store.tasks.claim(ref, {
    from,
    to,
    owner: OWNER,
    leaseMs: ctx.settings.leaseMs,
    maxUnfinished: ctx.settings.retry.maxAttempts,
    ownerIsLive: (owner, leaseUntil) => ctx.holderIsLive(ref, owner, leaseUntil),
  });
  if (result.kind === "claimed") return { job, task: result.task };
  if (result.kind === "exhausted") {
    const failed = await failExhausted(ctx, result.task);
    await dispatchNotifications(ctx, job.queue, failed.notifications);
    ctx.logger.error(
      {
        event: "channel-failed",
        jobId: job.id,
        channel: ref.channel,
        attempts: result.task.attempts,
      },
      "channel failed: started too many times without finishing",
    );
    await delivery.deadLetter("E_ATTEMPTS_EXHAUSTED");
    ctx.touched(job.id);
    return null;
  }
  // Finished, in another stage, or another worker holds it: a duplicate message.
  await delivery.ack();
  return null;
}
