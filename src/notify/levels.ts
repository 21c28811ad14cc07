/**
 * Notification levels: which events a sink configured at a level receives.
 *
 *   none     nothing
 *   failure  channel.failed, task.finished of a task that did not succeed
 *   summary  job.finished, task.finished
 *   each     channel.done, channel.failed, job.finished, task.finished
 *
 * `wantsEvent` is that table. `shouldNotify` is what callers use: it also hands
 * a "failure" sink the job.finished of a job that failed without any channel
 * failing (say the mother APK vanished before packing), which would otherwise
 * leave that sink silent about a failure.
 */
import type { NotifyEvent, NotifyLevel } from "./contract.js";

export const NOTIFY_LEVELS: readonly NotifyLevel[] = ["none", "failure", "summary", "each"];

const EVENT_TYPES_BY_LEVEL: Record<NotifyLevel, readonly NotifyEvent["type"][]> = {
  none: [],
  failure: ["channel.failed"],
  summary: ["job.finished", "task.finished"],
  each: ["channel.done", "channel.failed", "job.finished", "task.finished"],
};

export function wantsEvent(level: NotifyLevel, type: NotifyEvent["type"]): boolean {
  return EVENT_TYPES_BY_LEVEL[level].includes(type);
}

export function shouldNotify(level: NotifyLevel, event: NotifyEvent): boolean {
  if (wantsEvent(level, event.type)) return true;
  if (level === "failure" && event.type === "task.finished") return event.status !== "done";
  return (
    level === "failure" &&
    event.type === "job.finished" &&
    event.status === "failed" &&
    event.failed.length === 0
  );
}
