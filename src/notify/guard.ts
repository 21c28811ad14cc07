/**
 * A plain structural check for events read back from outside (a Redis list, a
 * replayed webhook body), so consumers in TypeScript need no schema library.
 */
import type { NotifyEvent } from "./contract.js";

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === "object" && value !== null;
const isString = (value: unknown): value is string => typeof value === "string";
const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= 0;
const JOB_STATUSES: readonly unknown[] = ["done", "partial", "failed", "cancelled"];

const TASK_STATUSES: readonly unknown[] = ["done", "failed", "timed_out", "cancelled"];

export function isNotifyEvent(value: unknown): value is NotifyEvent {
  if (!isObject(value) || !isString(value.id) || !isString(value.at)) return false;
  if (value.type === "task.finished") {
    return (
      isString(value.taskId) &&
      isString(value.tool) &&
      isString(value.pool) &&
      TASK_STATUSES.includes(value.status) &&
      (value.error === null ||
        (isObject(value.error) && isString(value.error.code) && isString(value.error.message))) &&
      (value.exitCode === null || typeof value.exitCode === "number") &&
      Array.isArray(value.outputs) &&
      value.outputs.every(
        (o: unknown) =>
          isObject(o) &&
          isString(o.path) &&
          isString(o.sha256) &&
          isCount(o.size) &&
          isString(o.url),
      )
    );
  }
  if (!isString(value.jobId) || !isString(value.apk)) return false;
  switch (value.type) {
    case "channel.done":
      return isString(value.channel) && isOutput(value.output);
    case "channel.failed":
      return (
        isString(value.channel) &&
        isObject(value.error) &&
        isString(value.error.code) &&
        isString(value.error.message) &&
        isCount(value.attempts)
      );
    case "job.finished":
      return (
        JOB_STATUSES.includes(value.status) &&
        isObject(value.counts) &&
        ["done", "failed", "cancelled", "total"].every((k) =>
          isCount((value.counts as Fields)[k]),
        ) &&
        Array.isArray(value.failed) &&
        value.failed.every(
          (f: unknown) =>
            isObject(f) && isString(f.channel) && isString(f.code) && isString(f.message),
        )
      );
    default:
      return false;
  }
}

function isOutput(value: unknown): boolean {
  return (
    isObject(value) &&
    isString(value.key) &&
    isCount(value.size) &&
    isString(value.sha256) &&
    (value.url === null || isString(value.url))
  );
}
