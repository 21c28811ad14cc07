/**
 * The task cluster's vocabulary (docs/cluster.md): what a task is, its states,
 * and the views the API returns.
 */
import type { ClusterTaskStatus, ExecutorState } from "../db/index.js";
import type { NotifyLevel } from "../notify/index.js";

export type TaskStatus = ClusterTaskStatus;
export const TASK_STATUSES = [
  "queued",
  "assigned",
  "staging",
  "running",
  "uploading",
  "done",
  "failed",
  "timed_out",
  "cancelled",
] as const satisfies readonly TaskStatus[];

/** States in which an executor holds the task. */
export const ACTIVE_STATUSES = [
  "assigned",
  "staging",
  "running",
  "uploading",
] as const satisfies readonly TaskStatus[];
export const FINAL_STATUSES = [
  "done",
  "failed",
  "timed_out",
  "cancelled",
] as const satisfies readonly TaskStatus[];

export interface TaskInput {
  /** Relative path inside the task's sandbox. */
  path: string;
  sha256: string; // lowercase hex
  size: number;
}

export interface Timeouts {
  assignMs: number;
  stagingMs: number;
  runMs: number;
}

/** A task as the API validated it, before it is stored. */
export interface NewTask {
  id: string;
  key: string | null;
  tool: string;
  pool: string;
  args: string[];
  inputs: TaskInput[];
  outputs: string[];
  env: Record<string, string>;
  timeouts: Timeouts;
  retries: number;
  cacheable: boolean;
  owner: string;
  notify: { level: NotifyLevel; targets: string[] };
}

/** What an executor needs to run a task it claimed. */
export interface TaskSpec {
  id: string;
  tool: string;
  args: string[];
  inputs: TaskInput[];
  outputs: string[];
  env: Record<string, string>;
  timeouts: Timeouts;
  /** Which run this is (1 for the first). */
  attempt: number;
}

export interface TaskOutput {
  path: string;
  sha256: string;
  size: number;
  /** The file service's id of the stored bytes. */
  fileId: string;
  /** Where to download it from this server. */
  url: string;
}

/** What a finished run produced (done, or failed with an exit code). */
export interface TaskResult {
  exitCode: number | null;
  /** The last bytes of each stream. */
  stdout: string;
  stderr: string;
  outputs: TaskOutput[];
  /** The whole logs as stored files (cut at cluster.limits.maxLogBytes). */
  logs: { stdout: string | null; stderr: string | null; truncated: boolean };
  ms: number;
  /** True when this result came from the result cache, not from a run. */
  cached?: boolean;
}

export interface TaskView {
  id: string;
  key: string | null;
  status: TaskStatus;
  tool: string;
  pool: string;
  args: string[];
  inputs: TaskInput[];
  outputs: string[];
  executor: string | null;
  attempts: number;
  retries: number;
  timeouts: Timeouts;
  cacheable: boolean;
  notify: { level: NotifyLevel; targets: string[] };
  createdAt: string;
  assignedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  result: TaskResult | null;
  error: { code: string; message: string } | null;
}

export interface ExecutorView {
  id: string;
  host: string;
  pool: string;
  /** Tool names, with the sha256 of each binary as the executor reported it. */
  tools: Record<string, string>;
  labels: Record<string, string>;
  slots: number;
  busy: number;
  cache: { bytes: number; max: number };
  registeredAt: string;
  lastSeen: string;
  state: ExecutorState;
}

/** What an executor says about itself when it registers. */
export interface ExecutorRegistration {
  id: string;
  host: string;
  pool: string;
  tools: Record<string, string>;
  labels: Record<string, string>;
  slots: number;
  cache: { bytes: number; max: number };
}

/** The queue a pool's tasks for one tool travel on. */
export function taskQueueName(pool: string, tool: string): string {
  return `cluster.${pool}.${tool}`;
}

export interface TaskMessage {
  taskId: string;
  /** The run this message is for; a message of an earlier run is stale. */
  attempt: number;
}
