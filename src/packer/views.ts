/** The JSON the API returns for jobs and channels (docs/packer-api.md). */
import type { NotifyLevel } from "../notify/index.js";
import type { ChannelView, JobSummary, JobView } from "./model.js";
import type { ChannelPage, JobRow, StateCounts, TaskRow } from "./store/index.js";

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

/** A page cursor: opaque to clients ("c" + the last row's position in the request). */
export function encodeCursor(seq: number | null): string | null {
  return seq === null ? null : `c${seq}`;
}

/** The position after which the page starts; null for the first page. Throws on a bad cursor. */
export function decodeCursor(cursor: string | undefined): number | null | "invalid" {
  if (cursor === undefined || cursor === "") return null;
  const match = /^c(\d{1,9})$/.exec(cursor);
  return match ? Number(match[1]) : "invalid";
}

export function channelView(task: TaskRow): ChannelView {
  const uploaded =
    task.output_key !== null && (task.state === "done" || task.state === "notifying");
  return {
    channel: task.channel,
    state: task.state,
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

export function jobSummary(job: JobRow, counts: StateCounts): JobSummary {
  return {
    id: job.id,
    status: job.status,
    apk: job.apk,
    queue: job.queue,
    upload: { target: job.target, prefix: job.prefix },
    notify: {
      level: job.notify_level as NotifyLevel,
      targets: JSON.parse(job.notify_targets) as string[],
    },
    extras: job.extras === null ? {} : (JSON.parse(job.extras) as Record<string, string>),
    createdAt: new Date(job.created_at).toISOString(),
    finishedAt: job.finished_at === null ? null : new Date(job.finished_at).toISOString(),
    counts: { ...counts },
    seq: job.change_seq,
  };
}

export function jobView(job: JobRow, counts: StateCounts, page: ChannelPage): JobView {
  return {
    ...jobSummary(job, counts),
    channels: page.rows.map(channelView),
    nextCursor: encodeCursor(page.next),
  };
}
