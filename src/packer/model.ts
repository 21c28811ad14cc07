/** The packer's vocabulary: job and channel states, messages, and the views the API returns. */
import type { NotifyLevel } from "../notify/index.js";

export const TASK_STATES = [
  "queued",
  "packing",
  "uploading",
  "notifying",
  "done",
  "failed",
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const JOB_STATUSES = [
  "queued",
  "running",
  "done",
  "partial",
  "failed",
  "cancelled",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_TASK_STATES: readonly TaskState[] = ["done", "failed"];

export interface TaskRef {
  jobId: string;
  channel: string;
}

/** What the stage queues carry: only a reference; the database holds the state. */
export type StageMessage = TaskRef;
export interface NotifyMessage {
  notificationId: string;
}

export interface ChannelView {
  channel: string;
  state: TaskState;
  attempts: number;
  error: { code: string; message: string } | null;
  output: { key: string; size: number; sha256: string; url: string | null } | null;
}

export interface JobView {
  id: string;
  status: JobStatus;
  apk: string;
  queue: string;
  upload: { target: string; prefix: string };
  notify: { level: NotifyLevel; targets: string[] };
  createdAt: string;
  finishedAt: string | null;
  channels: ChannelView[];
}

export interface JobSummary extends Omit<JobView, "channels"> {
  counts: Record<TaskState, number> & { total: number };
}

/** A new job as the API validated it. */
export interface NewJob {
  id: string;
  apk: string;
  apkPath: string;
  queue: string;
  target: string;
  prefix: string;
  nameTemplate: string;
  format: string;
  notifyLevel: NotifyLevel;
  notifyTargets: string[];
  channels: { channel: string; extras: Record<string, string>; fileName: string }[];
}
