/**
 * The cluster's clock: every `cluster.sweepIntervalMs` the server
 * - declares executors silent for `lostAfterMs` lost, and gives their tasks
 *   another run (up to `retries`) or fails them E_EXECUTOR_LOST;
 * - fails tasks no executor took within `assignMs` (E_TASK_NOT_ASSIGNED);
 * - ends tasks whose executor neither finished nor reported past a stage's
 *   deadline (E_STAGING_TIMEOUT, E_TASK_TIMEOUT) — executors enforce their
 *   deadlines themselves; this catches the ones that cannot;
 * - queues again what was stored but never queued (a crash in between);
 * - forgets finished tasks and cached results past `retentionSeconds`.
 */
import type { ClusterService } from "./service.js";

/** A stage's deadline passes by this much before the server acts instead of the executor. */
const graceMs = (service: ClusterService): number => 2 * service.settings.heartbeatMs + 1000;

export interface SweepCounts {
  lost: number;
  unassigned: number;
  timedOut: number;
  redispatched: number;
}

export async function sweepCluster(service: ClusterService): Promise<SweepCounts> {
  const { tasks, executors, settings, logger } = service;
  const counts: SweepCounts = { lost: 0, unassigned: 0, timedOut: 0, redispatched: 0 };
  const now = service.now();

  for (const executor of await executors.markLost(now - settings.lostAfterMs)) {
    counts.lost++;
    logger.warn(
      { event: "executor-lost", executor },
      "executor stopped answering; its tasks are given back",
    );
    for (const task of await tasks.heldBy(executor))
      await service.requeueOrFail(task, executor, false);
  }

  for (const task of await tasks.overdue(["queued"], 0)) {
    const ended = await service.endTask(
      task.id,
      null,
      {
        status: "failed",
        error: {
          code: "E_TASK_NOT_ASSIGNED",
          message: `no executor of pool ${JSON.stringify(task.pool)} took the task within ${(JSON.parse(task.timeouts) as { assignMs: number }).assignMs} ms (tool ${JSON.stringify(task.tool)})`,
        },
      },
      ["queued"],
    );
    if (ended) counts.unassigned++;
  }

  const grace = graceMs(service);
  for (const task of await tasks.overdue(["assigned", "staging"], grace)) {
    if (
      await service.endTask(
        task.id,
        task.executor_id,
        {
          status: "timed_out",
          error: {
            code: "E_STAGING_TIMEOUT",
            message: "the inputs were not staged within stagingMs",
          },
        },
        ["assigned", "staging"],
      )
    )
      counts.timedOut++;
  }
  for (const task of await tasks.overdue(["running", "uploading"], grace)) {
    if (
      await service.endTask(
        task.id,
        task.executor_id,
        {
          status: "timed_out",
          error: { code: "E_TASK_TIMEOUT", message: "the run did not end within runMs" },
        },
        ["running", "uploading"],
      )
    )
      counts.timedOut++;
  }

  for (const task of await tasks.undispatched()) {
    await service.dispatch(task);
    counts.redispatched++;
  }

  const before = now - settings.retentionSeconds * 1000;
  await tasks.purge(before);
  await service.results.purge(before);
  return counts;
}
