/**
 * The end of a channel's storing, however its child reached the target
 * (uploaded whole by the upload stage, or composed there by the pack
 * stage): the channel moves to `notifying` with its channel.done event in
 * the outbox (same transaction), or straight to `done` when the job's level
 * sends no per-channel events.
 */
import type { BlobStore } from "../blob/index.js";
import { wantsEvent } from "../notify/index.js";
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";
import type { TaskRef } from "./model.js";
import { levelOf, notifyTargetsOf, type JobRow, type TaskRow } from "./store/index.js";
import { moveHeldTask } from "./transition.js";
import { outputUrl } from "./views.js";

export interface StoredChild {
  key: string;
  size: number;
  sha256: string;
}

/** The key of a channel's child: in the job's key space "<prefix><job id>/" (job-create). */
export function childKey(job: JobRow, task: TaskRow): string {
  return `${job.prefix}${task.file_name ?? ""}`;
}

/**
 * A crash between starting a multipart upload and finishing it (or saving
 * its checkpoint) orphans that upload: only this task writes this key, so
 * once the key is stored, every other upload of it goes.
 */
export async function abortOtherUploads(store: BlobStore, key: string): Promise<void> {
  for (const orphan of await store.incompleteUploads(key)) {
    if (orphan.key === key) await store.abortUpload(orphan);
  }
}

/** Moves the held task on, with `fields` besides the output's; queues its notifications. */
export async function finishStoredChannel(
  ctx: PackerContext,
  ref: TaskRef,
  job: JobRow,
  store: BlobStore,
  child: StoredChild,
  fields: Partial<TaskRow> = {},
): Promise<void> {
  const { key, size, sha256 } = child;
  const notifying = wantsEvent(levelOf(job), "channel.done") && notifyTargetsOf(job).length > 0;
  const url = outputUrl(ctx.settings.baseUrl, job.id, ref.channel, store.publicUrl(key));
  const result = await moveHeldTask(
    ctx,
    ref,
    notifying ? "notifying" : "done",
    {
      ...fields,
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
  await dispatchNotifications(ctx, job.queue, result.notifications);
}
