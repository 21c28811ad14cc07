/** The JSON the cluster API returns (docs/cluster.md). */
import type { NotifyLevel } from "../notify/index.js";
import type { ExecutorView, TaskInput, TaskResult, TaskView, Timeouts } from "./model.js";
import type { ExecutorRow } from "./store/executors.js";
import type { TaskRow } from "./store/tasks.js";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function taskView(row: TaskRow): TaskView {
  return {
    id: row.id,
    key: row.idem_key,
    status: row.status,
    tool: row.tool,
    pool: row.pool,
    args: JSON.parse(row.args) as string[],
    inputs: JSON.parse(row.inputs) as TaskInput[],
    outputs: JSON.parse(row.outputs) as string[],
    executor: row.executor_id,
    attempts: row.attempts,
    retries: row.retries,
    timeouts: JSON.parse(row.timeouts) as Timeouts,
    cacheable: row.cacheable === 1,
    notify: {
      level: row.notify_level as NotifyLevel,
      targets: JSON.parse(row.notify_targets) as string[],
    },
    createdAt: new Date(row.created_at).toISOString(),
    assignedAt: iso(row.assigned_at),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    result: row.result === null ? null : (JSON.parse(row.result) as TaskResult),
    error:
      row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? "" },
  };
}

export function executorView(row: ExecutorRow): ExecutorView {
  return {
    id: row.id,
    host: row.host,
    pool: row.pool,
    tools: JSON.parse(row.tools) as Record<string, string>,
    labels: JSON.parse(row.labels) as Record<string, string>,
    slots: row.slots,
    busy: row.busy,
    cache: { bytes: row.cache_bytes, max: row.cache_max },
    registeredAt: new Date(row.registered_at).toISOString(),
    lastSeen: new Date(row.last_seen).toISOString(),
    state: row.state,
  };
}
