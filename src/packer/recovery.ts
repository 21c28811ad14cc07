/**
 * Recovery (design note 001's backup queues): work whose message may be
 * missing — never queued, or held by a worker that died — is queued again.
 * Interrupted uploads go first (they continue their multipart upload from the
 * saved checkpoint), then interrupted packs, both at the front of their queues
 * so they run ahead of new work; then undelivered notifications. Runs at
 * start-up and every `sweepIntervalMs` (for workers that died elsewhere).
 */
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";

export interface RecoveryCounts {
  uploads: number;
  packs: number;
  notifications: number;
}

export async function recover(ctx: PackerContext): Promise<RecoveryCounts> {
  const { store } = ctx;
  const rows = await store.recoverable(
    (task) =>
      task.owner !== null &&
      ctx.holderIsLive({ jobId: task.job_id, channel: task.channel }, task.owner, task.lease_until),
  );
  const queueOf = new Map<string, string>();
  const jobQueue = async (jobId: string): Promise<string> => {
    let queue = queueOf.get(jobId);
    if (queue === undefined) {
      queue = (await store.getJobRow(jobId))?.queue ?? ctx.settings.defaultQueue;
      queueOf.set(jobId, queue);
    }
    return queue;
  };
  const counts: RecoveryCounts = { uploads: 0, packs: 0, notifications: 0 };
  const ordered = [
    ...rows.filter((r) => r.state === "uploading"),
    ...rows.filter((r) => r.state !== "uploading"),
  ];
  for (const row of ordered) {
    const interrupted = row.owner !== null || row.state !== "queued";
    const queues = ctx.queues(await jobQueue(row.job_id));
    const ref = { jobId: row.job_id, channel: row.channel };
    if (row.state === "uploading") {
      await queues.upload.enqueue(ref, { front: true });
      counts.uploads++;
    } else {
      await queues.pack.enqueue(ref, { front: interrupted });
      counts.packs++;
    }
    await store.resetOwner(row);
  }
  const pending = await store.undispatchedNotifications();
  const byQueue = new Map<string, string[]>();
  for (const { id, jobId } of pending) {
    const queue = await jobQueue(jobId);
    byQueue.set(queue, [...(byQueue.get(queue) ?? []), id]);
  }
  for (const [queue, ids] of byQueue) {
    await dispatchNotifications(ctx, queue, ids);
    counts.notifications += ids.length;
  }
  return counts;
}
