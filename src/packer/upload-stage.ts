/**
 * Stage 2: upload the packed child to the job's target, resuming a multipart
 * upload from the checkpoint saved before the crash. Then the channel moves to
 * `notifying` (its channel.done event is in the outbox, same transaction) or
 * straight to `done` when the job's level sends no per-channel events, and the
 * work file is removed.
 */
import { access, rm } from "node:fs/promises";
import type { UploadCheckpoint } from "../blob/index.js";
import { wantsEvent, type NotifyLevel } from "../notify/index.js";
import type { Delivery } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications, dispatchTask } from "./dispatch.js";
import type { StageMessage } from "./model.js";
import { OWNER } from "./owner.js";
import { settleStageFailure } from "./stage-failure.js";
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
  const job = await ctx.store.getJobRow(ref.jobId);
  const task =
    job &&
    (await ctx.store.claim(ref, ["uploading"], "uploading", OWNER, ctx.settings.leaseMs, (o, l) =>
      ctx.holderIsLive(ref, o, l),
    ));
  if (!job || !task) {
    await delivery.ack();
    return;
  }
  const log = ctx.logger.child({
    jobId: job.id,
    channel: ref.channel,
    stage: "upload",
    attempt: delivery.attempt,
  });
  const file = childWorkPath(ctx.settings.workDir, job, task);
  try {
    const present = await access(file).then(
      () => true,
      () => false,
    );
    if (!present) {
      // The work file is gone (work directory wiped): pack it again.
      log.warn({ event: "repack" }, `work file ${file} is missing; packing the channel again`);
      const back = await ctx.store.advance(ref, OWNER, "queued", { upload_checkpoint: null });
      if (back.moved) await dispatchTask(ctx, job.queue, ref, "queued", { front: true });
      await delivery.ack();
      return;
    }
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
      onCheckpoint: (next) => ctx.store.saveCheckpoint(ref, OWNER, next),
    });
    // A crash between starting a multipart upload and saving its checkpoint
    // orphans that upload: only this task writes this key, so drop the others.
    for (const orphan of await store.incompleteUploads(key)) {
      if (orphan.key === key) await store.abortUpload(orphan);
    }
    const level = job.notify_level as NotifyLevel;
    const targets = JSON.parse(job.notify_targets) as string[];
    const notifying = wantsEvent(level, "channel.done") && targets.length > 0;
    const size = task.output_size ?? put.size;
    const sha256 = task.output_sha256 ?? "";
    const url = outputUrl(ctx.settings.baseUrl, job.id, ref.channel, store.publicUrl(key));
    const result = await ctx.store.advance(
      ref,
      OWNER,
      notifying ? "notifying" : "done",
      { output_key: key, upload_checkpoint: null, error_code: null, error_message: null },
      async (trx, current) => {
        if (!notifying) return [];
        return ctx.store.addEvent(
          trx,
          current,
          {
            id: `${job.id}:${ref.channel}:done`,
            type: "channel.done",
            jobId: job.id,
            apk: job.apk,
            channel: ref.channel,
            output: { key, size, sha256, url },
            at: new Date().toISOString(),
          },
          ref.channel,
        );
      },
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
