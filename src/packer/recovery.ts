/**
 * Recovery (the original design's backup queues): work whose message may be
 * missing — never queued, or held by a worker that died — is queued again.
 * Interrupted uploads go first (they continue their multipart upload from the
 * saved checkpoint), then interrupted packs, both at the front of their queues
 * so they run ahead of new work; then undelivered notifications. Runs at
 * start-up and every `sweepIntervalMs` (for workers that died elsewhere), a
 * page of tasks at a time.
 */
import type { PackerContext } from "./context.js";
import { dispatchNotifications } from "./dispatch.js";
import type { TaskRow } from "./store/index.js";

const PAGE = 1000;

export interface RecoveryCounts {
  uploads: number;
  packs: number;
  notifications: number;
}

export async function recover(ctx: PackerContext): Promise<RecoveryCounts> {
  const { store } = ctx;
  const queueOf = new Map<string, string>();
  const jobQueue = async (jobId: string): Promise<string> => {
    let queue = queueOf.get(jobId);
    if (queue === undefined) {
      queue = (await store.jobs.get(jobId))?.queue ?? ctx.settings.defaultQueue;
      queueOf.set(jobId, queue);
    }
    return queue;
  };
  const counts: RecoveryCounts = { uploads: 0, packs: 0, notifications: 0 };
  const isHeldByLive = (task: TaskRow): boolean =>
    task.owner !== null &&
    ctx.holderIsLive({ jobId: task.job_id, channel: task.channel }, task.owner, task.lease_until);

  // Two passes, uploads first, so a restart finishes what was nearly done before new packs.
  for (const pass of ["uploads", "packs"] as const) {
    let after: { jobId: string; seq: number } | null = null;
    do {
      const page = await store.tasks.recoverable(isHeldByLive, { after, limit: PAGE });
      after = page.last;
      for (const row of page.rows) {
        const uploading = row.state === "uploading";
        if ((pass === "uploads") !== uploading) continue;
        const queues = ctx.queues(await jobQueue(row.job_id));
        const ref = { jobId: row.job_id, channel: row.channel };
        if (uploading) {
          await queues.upload.enqueue(ref, { front: true });
          counts.uploads++;
        } else {
          const interrupted = row.owner !== null || row.state !== "queued";
          await queues.pack.enqueue(ref, { front: interrupted });
          counts.packs++;
        }
        await store.tasks.resetOwner(row);
      }
    } while (after !== null);
  }

  for (;;) {
    const pending = await store.outbox.undispatched(PAGE);
    if (pending.length === 0) break;
    const byQueue = new Map<string, string[]>();
    for (const { id, jobId } of pending) {
      const queue = await jobQueue(jobId);
      byQueue.set(queue, [...(byQueue.get(queue) ?? []), id]);
    }
    for (const [queue, ids] of byQueue) {
      await dispatchNotifications(ctx, queue, ids);
      counts.notifications += ids.length;
    }
    if (pending.length < PAGE) break;
  }
  return counts;
}
