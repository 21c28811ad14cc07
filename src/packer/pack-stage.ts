/**
 * Stage 1: write the channel's child into the work directory (temp + rename,
 * so a crash leaves no half child), record its size and SHA-256, move the
 * channel to `uploading`. Idempotent: a repeat writes the same bytes.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { planChild, writeChild, type BlockFormat } from "../apk/index.js";
import type { Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications, dispatchTask } from "./dispatch.js";
import type { StageMessage } from "./model.js";
import { claimForStage } from "./stage-claim.js";
import { settleStageFailure } from "./stage-failure.js";
import type { JobRow, TaskRow } from "./store/index.js";
import { moveHeldTask } from "./transition.js";
import { childWorkPath } from "./work-files.js";

/** The job's shared extras under the channel's own (own values win). */
function extrasOf(job: JobRow, task: TaskRow): Record<string, string> {
  const shared = job.extras === null ? {} : (JSON.parse(job.extras) as Record<string, string>);
  return { ...shared, ...(JSON.parse(task.extras) as Record<string, string>) };
}

async function packChild(
  ctx: PackerContext,
  job: JobRow,
  task: TaskRow,
): Promise<{ size: number; sha256: string }> {
  const mother = await ctx.mothers.get(job.id, job.apk_path);
  const plan = planChild(mother.layout, {
    channel: task.channel,
    extras: extrasOf(job, task),
    format: job.format as BlockFormat,
    v1Style: ctx.settings.v1Style,
  });
  const out = childWorkPath(ctx.settings.workDir, job, task);
  await mkdir(dirname(out), { recursive: true });
  await writeChild(job.apk_path, plan, out);
  const hash = (await mother.prefixHash(plan.keepBytes)).copy();
  for (const piece of plan.tail) hash.update(piece);
  return { size: plan.size, sha256: hash.digest("hex") };
}

export async function handlePack(
  ctx: PackerContext,
  delivery: Delivery<StageMessage>,
): Promise<void> {
  // A handler here already works on this task: look again once it is done
  // (then the claim tells a duplicate from a retry that arrived early).
  if (!ctx.tryHold("pack", delivery.payload)) {
    await delivery.retry({ delayMs: 1000 });
    return;
  }
  try {
    await handlePackHeld(ctx, delivery);
  } finally {
    ctx.unhold("pack", delivery.payload);
  }
}

async function handlePackHeld(ctx: PackerContext, delivery: Delivery<StageMessage>): Promise<void> {
  const ref = delivery.payload;
  const claimed = await claimForStage(ctx, delivery, ["queued", "packing"], "packing");
  if (!claimed) return;
  const { job, task } = claimed;
  ctx.touched(job.id);
  const log = ctx.logger.child({
    jobId: job.id,
    channel: ref.channel,
    stage: "pack",
    attempt: task.attempts,
  });
  try {
    if (job.cancel_requested === 1) {
      const result = await moveHeldTask(ctx, ref, "failed", {
        error_code: "E_CANCELLED",
        error_message: "cancelled before it started",
      });
      await dispatchNotifications(ctx, job.queue, result.notifications);
      await delivery.ack();
      ctx.touched(job.id);
      return;
    }
    const started = Date.now();
    const child = await packChild(ctx, job, task);
    const result = await moveHeldTask(ctx, ref, "uploading", {
      output_size: child.size,
      output_sha256: child.sha256,
      upload_checkpoint: null,
      finished: true,
    });
    if (result.moved) await dispatchTask(ctx, job.queue, ref, "uploading");
    await dispatchNotifications(ctx, job.queue, result.notifications);
    await delivery.ack();
    log.info(
      { event: "packed", size: child.size, sha256: child.sha256, ms: Date.now() - started },
      "child packed",
    );
    ctx.touched(job.id);
  } catch (err) {
    await settleStageFailure(ctx, delivery, job, task, "pack", err, log);
  }
}
