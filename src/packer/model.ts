/** The packer's vocabulary: job and channel states, messages, and the views the API returns. */
import type { PackJobStatus, PackTaskState } from "../db/index.js";
import type { NotifyLevel } from "../notify/index.js";

export type TaskState = PackTaskState;
export const TASK_STATES = [
  "queued",
  "packing",
  "uploading",
  "notifying",
  "done",
  "failed",
] as const satisfies readonly TaskState[];

export type JobStatus = PackJobStatus;
export const JOB_STATUSES = [
  "queued",
  "running",
  "done",
  "partial",
  "failed",
  "cancelled",
] as const satisfies readonly JobStatus[];

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
  /** Times a worker started work on it (pack and upload each count; so do retries and crashes). */
  attempts: number;
  error: { code: string; message: string } | null;
  output: { key: string; size: number; sha256: string; url: string | null } | null;
}

export type StateCountsView = Record<TaskState, number> & { total: number };

/** A job without its channels: what lists and event summaries carry. */
export interface JobSummary {
  id: string;
  status: JobStatus;
  apk: string;
  queue: string;
  upload: { target: string; prefix: string };
  notify: { level: NotifyLevel; targets: string[] };
  /** Extras every channel carries (a channel's own override them). */
  extras: Record<string, string>;
  createdAt: string;
  finishedAt: string | null;
  counts: StateCountsView;
  /** The job's change sequence: GET …/events?since=<seq> streams what changed after it. */
  seq: number;
}

/** GET /api/v1/pack-jobs/:id: the summary and one page of channels. */
export interface JobView extends JobSummary {
  channels: ChannelView[];
  /** Pass as ?cursor= for the next page; null on the last page. */
  nextCursor: string | null;
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
  /** Stored once on the job; merged under each channel's own when its child is packed. */
  sharedExtras: Record<string, string>;
  channels: { channel: string; extras: Record<string, string>; fileName: string }[];
}
