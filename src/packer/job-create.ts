/**
 * Creating a job: every check runs before anything is stored (job-check.ts),
 * then the job and its tasks commit in one transaction and one pack message
 * per channel is queued. A dry run runs the same checks and stops there.
 */
import { randomBytes } from "node:crypto";
import type { PackerContext } from "./context.js";
import { dispatchTask } from "./dispatch.js";
import { checkJobRequest } from "./job-check.js";
import type { JobView, NewJob } from "./model.js";
import { emptyCounts, newJobRow, newTaskRows } from "./store/index.js";
import { jobView } from "./views.js";

/** Channels in the answer to a create (the first page of GET). */
const FIRST_PAGE = 1000;
/** Object names a dry run shows. */
const PREVIEW_NAMES = 5;

/** Sortable by creation time, unguessable enough to be a URL. */
export function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
}

/** The answer to a create: the job as it was stored, before any worker took a channel. */
function createdView(job: NewJob, createdAt: number): JobView {
  const rows = newTaskRows(job, createdAt, 0, FIRST_PAGE);
  const counts = { ...emptyCounts(), queued: job.channels.length, total: job.channels.length };
  const more = job.channels.length > FIRST_PAGE;
  return jobView(newJobRow(job, createdAt), counts, { rows, next: more ? FIRST_PAGE - 1 : null });
}

export async function createPackJob(ctx: PackerContext, body: unknown): Promise<JobView> {
  const id = newJobId();
  const checked = await checkJobRequest(ctx, body, id);
  if (!checked.ok) {
    ctx.mothers.forget(id);
    throw checked.problems.firstError();
  }
  const { job } = checked;
  const createdAt = await ctx.store.jobs.create(job);
  const view = createdView(job, createdAt);
  for (const channel of job.channels) {
    await dispatchTask(ctx, job.queue, { jobId: id, channel: channel.channel }, "queued");
  }
  ctx.logger.info(
    {
      event: "job-created",
      jobId: id,
      apk: job.apk,
      channels: job.channels.length,
      queue: job.queue,
      target: job.target,
    },
    "pack job created",
  );
  return view;
}

/** The answer to a dry run that passed every check: what the create would store, in brief. */
export interface PackJobPreview {
  valid: true;
  apk: string;
  channels: number;
  format: string;
  name: string;
  queue: string;
  /** `prefix` as requested: the created job's key space adds its id, `<prefix><job id>/`. */
  upload: { target: string; prefix: string };
  notify: { level: string; targets: string[] };
  /** The mother's manifest, as the name template sees it. */
  mother: {
    package: string;
    versionName: string | null;
    versionCode: number;
    label: string | null;
  };
  /** The object names of the first channels, in the order of the request. */
  names: string[];
}

/**
 * POST /api/v1/pack-jobs?dryRun=true: every check of the create, nothing
 * stored, queued or kept open. Problems answer 400 E_INVALID_REQUEST with
 * the same `details.field` and `details.fields` as the create.
 */
export async function dryRunPackJob(ctx: PackerContext, body: unknown): Promise<PackJobPreview> {
  const id = newJobId();
  try {
    const checked = await checkJobRequest(ctx, body, id);
    if (!checked.ok) throw checked.problems.invalidRequest();
    const { job, manifest } = checked;
    return {
      valid: true,
      apk: job.apk,
      channels: job.channels.length,
      format: job.format,
      name: job.nameTemplate,
      queue: job.queue,
      upload: { target: job.target, prefix: job.prefix.slice(0, -(id.length + 1)) },
      notify: { level: job.notifyLevel, targets: job.notifyTargets },
      mother: {
        package: manifest.package,
        versionName: manifest.versionName,
        versionCode: manifest.versionCode,
        label: manifest.label,
      },
      names: job.channels.slice(0, PREVIEW_NAMES).map((c) => c.fileName),
    };
  } finally {
    ctx.mothers.forget(id);
  }
}
