/**
 * Stage 2: upload the packed child to the job's target, resuming a multipart
 * upload from the checkpoint saved before the crash. Then the channel moves to
 * `notifying` (its channel.done event is in the outbox, same transaction) or
 * straight to `done` when the job's level sends no per-channel events, and the
 * work file is removed.
 */
import { access, rm } from "node:fs/promises";
import type { UploadCheckpoint } from "../blob/index.js";
import { wantsEvent } from "../notify/index.js";
import type { Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications, dispatchTask } from "./dispatch.js";
import type { StageMessage } from "./model.js";
import { OWNER } from "./owner.js";
import { claimForStage } from "./stage-claim.js";
import { settleStageFailure } from "./stage-failure.js";
import { levelOf, notifyTargetsOf } from "./store/index.js";
import { moveHeldTask } from "./transition.js";
import { outputUrl } from "./views.js";
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
    // The job's key space: "<prefix><job id>/" (job-create), so no job writes another's keys.
    const key = `${job.prefix}${task.file_name ?? ""}`;
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
    // A crash between starting a multipart upload and saving its checkpoint
    // orphans that upload: only this task writes this key, so drop the others.
    for (const orphan of await store.incompleteUploads(key)) {
      if (orphan.key === key) await store.abortUpload(orphan);
    }
    const notifying = wantsEvent(levelOf(job), "channel.done") && notifyTargetsOf(job).length > 0;
    const size = task.output_size ?? put.size;
    const sha256 = task.output_sha256 ?? "";
    const url = outputUrl(ctx.settings.baseUrl, job.id, ref.channel, store.publicUrl(key));
    const result = await moveHeldTask(
      ctx,
      ref,
      notifying ? "notifying" : "done",
      {
        output_key: key,
        upload_checkpoint: null,
        error_code: null,
        error_message: null,
        finished: true,
      },
      notifying
        ? (current) => ({
            id: `${current.id}:${ref.channel}:done`,
            type: "channel.done",
            jobId: current.id,
            apk: current.apk,
            channel: ref.channel,
            output: { key, size, sha256, url },
            at: new Date().toISOString(),
          })
        : null,
    );
    await rm(file, { force: true });
    await dispatchNotifications(ctx, job.queue, result.notifications);
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
