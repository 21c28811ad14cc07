/**
 * Putting work on queues after the database says so. A transition commits
 * first with `dispatched = 0`; the message is queued; then `dispatched = 1`.
 * A crash in between leaves `dispatched = 0`, and the recovery sweep queues it
 * again — at worst a duplicate, which the claim in the database turns away.
 */
import type { EnqueueOptions } from "../queue/index.js";
import type { PackerContext } from "./context.js";
import type { TaskRef, TaskState } from "./model.js";

export async function dispatchTask(
  ctx: PackerContext,
  queue: string,
  ref: TaskRef,
  state: TaskState,
  options: EnqueueOptions = {},
): Promise<void> {
  const queues = ctx.queues(queue);
  if (state === "queued" || state === "packing") await queues.pack.enqueue(ref, options);
  else if (state === "uploading") await queues.upload.enqueue(ref, options);
  else return;
  await ctx.store.tasks.markDispatched(ref, state);
}

export async function dispatchNotifications(
  ctx: PackerContext,
  queue: string,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  const { notify } = ctx.queues(queue);
  for (const notificationId of ids) await notify.enqueue({ notificationId });
  await ctx.store.outbox.markDispatched([...ids]);
}

/**
 * Queues outbox rows another module wrote (task.finished events of the task
 * cluster) on the default queue's notify stage, which delivers them like a
 * pack job's. Rows left undispatched are queued by the recovery sweep.
 */
export function queueNotifications(ctx: PackerContext, ids: readonly string[]): Promise<void> {
  return dispatchNotifications(ctx, ctx.settings.defaultQueue, ids);
}
