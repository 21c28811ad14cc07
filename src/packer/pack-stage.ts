/**
 * Stage 1: make the channel's child. Where the job's target composes
 * (compose-choice.ts) and the mother's shared prefix is at least the
 * target's smallest copy part, the child is composed in the target — a
 * range copy of the mother uploaded once (mother-upload.ts) plus the
 * child's tail — and the channel is stored in this one step, without the
 * child touching local disk. Otherwise the child is written into the work
 * directory (temp + rename, so a crash leaves no half child) and the
 * channel moves to `uploading`. Either way its size and SHA-256 come from
 * the mother's prefix hash plus the tail. Idempotent: a repeat writes the
 * same bytes to the same place.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { planChild, writeChild, type BlockFormat } from "../apk/index.js";
import type { BlobStore } from "../blob/index.js";
import { GamedockError } from "../core/index.js";
import type { Delivery } from "../queue/index.js";
import { abortOtherUploads, childKey, finishStoredChannel } from "./channel-stored.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications, dispatchTask } from "./dispatch.js";
import type { StageMessage } from "./model.js";
import { APK_CONTENT_TYPE, ensureMother, forgetMother } from "./mother-upload.js";
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

/** The child: composed in the target (`key` set), or written to the work directory. */
interface MadeChild {
  key: string | null;
  size: number;
  sha256: string;
}

async function makeChild(ctx: PackerContext, job: JobRow, task: TaskRow): Promise<MadeChild> {
  const mother = await ctx.mothers.get(job.id, job.apk_path);
  const plan = planChild(mother.layout, {
    channel: task.channel,
    extras: extrasOf(job, task),
    format: job.format as BlockFormat,
    v1Style: ctx.settings.v1Style,
  });
  const hash = (await mother.prefixHash(plan.keepBytes)).copy();
  for (const piece of plan.tail) hash.update(piece);
  const sha256 = hash.digest("hex");
  const store = await ctx.target(job.target);
  if ((await ctx.composes(job.target)) && plan.keepBytes >= store.composeMinBytes) {
    const key = await composeChild(ctx, job, task, store, {
      motherDigest: await mother.digest(plan.keepBytes),
      keepBytes: plan.keepBytes,
      tail: Buffer.concat(plan.tail),
    });
    return { key, size: plan.size, sha256 };
  }
  const out = childWorkPath(ctx.settings.workDir, job, task);
  await mkdir(dirname(out), { recursive: true });
  await writeChild(job.apk_path, plan, out);
  return { key: null, size: plan.size, sha256 };
}

/** Composes the child at its key from the mother on the target; returns the key. */
async function composeChild(
  ctx: PackerContext,
  job: JobRow,
  task: TaskRow,
  store: BlobStore,
  child: { motherDigest: string; keepBytes: number; tail: Buffer },
): Promise<string> {
  const mother = await ensureMother(ctx, job, store, child.motherDigest);
  const key = childKey(job, task);
  try {
    await store.compose(key, { key: mother, start: 0, length: child.keepBytes }, child.tail, {
      contentType: APK_CONTENT_TYPE,
      signal: ctx.signal,
    });
  } catch (err) {
    if (!(err instanceof GamedockError) || err.code !== "E_NOT_FOUND") throw err;
    // The mother went (another process's sweep): the retry uploads it again.
    forgetMother(ctx, job.target, child.motherDigest);
    throw new GamedockError(
      "E_UPLOAD_FAILED",
      `the mother ${mother} disappeared from target ${JSON.stringify(job.target)} while composing; it is uploaded again on retry`,
      { key: mother },
    );
  }
  await abortOtherUploads(store, key);
  return key;
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
    const child = await makeChild(ctx, job, task);
    if (child.key !== null) {
      const store = await ctx.target(job.target);
      const { key, size, sha256 } = child;
      await finishStoredChannel(
        ctx,
        ref,
        job,
        store,
        { key, size, sha256 },
        {
          output_size: size,
          output_sha256: sha256,
        },
      );
      await delivery.ack();
      log.info(
        { event: "composed", key, size, sha256, target: job.target, ms: Date.now() - started },
        "child composed in the target",
      );
      ctx.touched(job.id);
      return;
    }
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
