/**
 * Stage 2 (children uploaded whole): upload the packed child to the job's
 * target, resuming a multipart upload from the checkpoint saved before the
 * crash; then the channel is stored (channel-stored.ts) and the work file is
 * removed. Children composed in the target skip this stage.
 */
import { access, rm } from "node:fs/promises";
import type { UploadCheckpoint } from "../blob/index.js";
import type { Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { abortOtherUploads, childKey, finishStoredChannel } from "./channel-stored.js";
import { dispatchTask } from "./dispatch.js";
import type { StageMessage } from "./model.js";
import { OWNER } from "./owner.js";
import { claimForStage } from "./stage-claim.js";
import { settleStageFailure } from "./stage-failure.js";
import { moveHeldTask } from "./transition.js";
import { childWorkPath } from "./work-files.js";

export async function handleUpload(
  ctx: PackerContext,
  delivery: Delivery<StageMessage>,
): Promise<void> {
  // A handler here already works on this task: look again once it is done
  // (then the claim tells a duplicate from a retry that arrived early).
  if (!ctx.tryHold("upload", delivery.payload)) {
    await delivery.retry({ delayMs: 1000 });
    return;
  }
  try {
    await handleUploadHeld(ctx, delivery);
  } finally {
    ctx.unhold("upload", delivery.payload);
  }
}

async function handleUploadHeld(
  ctx: PackerContext,
  delivery: Delivery<StageMessage>,
): Promise<void> {
  const ref = delivery.payload;
  const claimed = await claimForStage(ctx, delivery, ["uploading"], "uploading");
  if (!claimed) return;
  const { job, task } = claimed;
  const log = ctx.logger.child({
    jobId: job.id,
    channel: ref.channel,
    stage: "upload",
    attempt: task.attempts,
  });
  const file = childWorkPath(ctx.settings.workDir, job, task);
  try {
    const present = await access(file).then(
      () => true,
      () => false,
    );
    if (!present) {
      // The work file is gone (work directory wiped): pack it again. The start
      // still counts, so a channel that keeps losing its file ends failed.
      log.warn({ event: "repack" }, "work file is missing; packing the channel again");
      const back = await moveHeldTask(ctx, ref, "queued", { upload_checkpoint: null });
      if (back.moved) await dispatchTask(ctx, job.queue, ref, "queued", { front: true });
      await delivery.ack();
      return;
    }
    const key = childKey(job, task);
    const store = await ctx.target(job.target);
    const checkpoint = task.upload_checkpoint
      ? (JSON.parse(task.upload_checkpoint) as UploadCheckpoint)
      : null;
    const started = Date.now();
    const put = await store.putFile(key, file, {
      contentType: "application/vnd.android.package-archive",
      checkpoint,
      signal: ctx.signal,
      disposable: true, // the work file is removed after the upload anyway
      onCheckpoint: (next) => ctx.store.tasks.saveCheckpoint(ref, OWNER, next),
    });
    await abortOtherUploads(store, key);
    const size = task.output_size ?? put.size;
    const sha256 = task.output_sha256 ?? "";
    await finishStoredChannel(ctx, ref, job, store, { key, size, sha256 });
    await rm(file, { force: true });
    await delivery.ack();
    log.info(
      {
        event: "uploaded",
        key,
        size,
        target: job.target,
        partsUploaded: put.partsUploaded,
        resumed: checkpoint !== null,
        ms: Date.now() - started,
      },
      "child uploaded",
    );
    ctx.touched(job.id);
  } catch (err) {
    await settleStageFailure(ctx, delivery, job, task, "upload", err, log);
  }
}
