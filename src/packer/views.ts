/** The JSON the API returns for jobs and channels (docs/packer-api.md). */
import type { NotifyLevel } from "../notify/index.js";
import type { ChannelView, JobStatus, JobSummary, JobView, TaskState } from "./model.js";
import { TASK_STATES } from "./model.js";
import type { JobRow, TaskRow } from "./store.js";

/** The server path that downloads a channel's uploaded child from any target. */
export function downloadPath(jobId: string, channel: string): string {
  return `/api/v1/pack-jobs/${encodeURIComponent(jobId)}/channels/${encodeURIComponent(channel)}/download`;
}

/** For events: the target's public URL when it has one, else the server's absolute download URL. */
export function outputUrl(
  baseUrl: string,
  jobId: string,
  channel: string,
  publicUrl: string | null,
): string {
  return publicUrl ?? `${baseUrl}${downloadPath(jobId, channel)}`;
}

export function channelView(task: TaskRow): ChannelView {
  const uploaded =
    task.output_key !== null && (task.state === "done" || task.state === "notifying");
  return {
    channel: task.channel,
    state: task.state as TaskState,
    attempts: task.attempts,
    error:
      task.error_code === null
        ? null
        : { code: task.error_code, message: task.error_message ?? "" },
    output:
      uploaded && task.output_key !== null
        ? {
            key: task.output_key,
            size: task.output_size ?? 0,
            sha256: task.output_sha256 ?? "",
            url: downloadPath(task.job_id, task.channel),
          }
        : null,
  };
}

function jobBase(job: JobRow): Omit<JobView, "channels"> {
  return {
    id: job.id,
    status: job.status as JobStatus,
    apk: job.apk,
    queue: job.queue,
    upload: { target: job.target, prefix: job.prefix },
    notify: {
      level: job.notify_level as NotifyLevel,
      targets: JSON.parse(job.notify_targets) as string[],
    },
    createdAt: new Date(job.created_at).toISOString(),
    finishedAt: job.finished_at === null ? null : new Date(job.finished_at).toISOString(),
  };
}

export function jobView(job: JobRow, tasks: TaskRow[]): JobView {
  return { ...jobBase(job), channels: tasks.map(channelView) };
}

export function jobSummary(job: JobRow, counts: Map<string, number> | undefined): JobSummary {
  const byState = Object.fromEntries(TASK_STATES.map((s) => [s, counts?.get(s) ?? 0])) as Record<
    TaskState,
    number
  >;
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  return { ...jobBase(job), counts: { ...byState, total } };
}
