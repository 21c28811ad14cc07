/**
 * Creating a job: every check runs before anything is stored (design note
 * 000's pre-pack checks: parameters, mother exists, readable, signed, output
 * names), then the job and its tasks commit in one transaction and one pack
 * message per channel is queued.
 */
import { randomBytes } from "node:crypto";
import {
  rejectDuplicates,
  renderName,
  templateValues,
  validateChannelId,
  validateExtras,
  validateTemplate,
  type ChannelEntry,
  type ExtrasLimits,
} from "../apk/index.js";
import { refuseReserved, validateBlobKey, validateBlobPrefix } from "../blob/index.js";
import { GamedockError } from "../core/index.js";
import type { PackerContext } from "./context.js";
import { dispatchTask } from "./dispatch.js";
import { fieldError, parseJobRequest, type JobRequest } from "./job-request.js";
import type { JobView, NewJob } from "./model.js";
import { resolveMother, userFacing } from "./mother-path.js";
import { emptyCounts, newJobRow, newTaskRows } from "./store/index.js";
import { jobView } from "./views.js";

/** Channels in the answer to a create (the first page of GET). */
const FIRST_PAGE = 1000;
/** A job's keys go under "<prefix><job id>/"; this is the prefix when a request names none. */
export const DEFAULT_UPLOAD_PREFIX = "pack-jobs/";

/** Sortable by creation time, unguessable enough to be a URL. */
export function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
}

function channelEntries(request: JobRequest, limits: ExtrasLimits): ChannelEntry[] {
  return request.channels.map((item, index) => {
    const field = typeof item === "string" ? `channels.${index}` : `channels.${index}.id`;
    const id = typeof item === "string" ? item : item.id;
    try {
      const channel = validateChannelId(id, field);
      const own =
        typeof item === "string" || item.extras === undefined
          ? {}
          : validateExtras(item.extras, `channels.${index}.extras`, limits);
      return { channel, extras: own, source: field };
    } catch (err) {
      throw fieldError(err, typeof item !== "string" && item.extras ? `channels.${index}` : field);
    }
  });
}

function pickNamed(
  value: string | undefined,
  fallback: string,
  known: readonly string[],
  field: string,
  what: string,
): string {
  const name = value ?? fallback;
  if (!known.includes(name)) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${field}: ${what} ${JSON.stringify(name)} is not configured (configured: ${known.join(", ") || "none"})`,
      { field },
    );
  }
  return name;
}

/** "<prefix><job id>/": only this job writes there, and gamedock's own areas are out of reach. */
function keySpace(prefix: string, id: string): string {
  const space = `${prefix}${id}/`;
  try {
    validateBlobPrefix(space);
    refuseReserved(space, "upload.prefix");
  } catch (err) {
    throw fieldError(err, "upload.prefix");
  }
  return space;
}

/** The answer to a create: the job as it was stored, before any worker took a channel. */
function createdView(job: NewJob, createdAt: number): JobView {
  const rows = newTaskRows(job, createdAt, 0, FIRST_PAGE);
  const counts = { ...emptyCounts(), queued: job.channels.length, total: job.channels.length };
  const more = job.channels.length > FIRST_PAGE;
  return jobView(newJobRow(job, createdAt), counts, { rows, next: more ? FIRST_PAGE - 1 : null });
}

export async function createPackJob(ctx: PackerContext, body: unknown): Promise<JobView> {
  const { settings } = ctx;
  const request = parseJobRequest(body, settings.limits.maxChannels);
  const fileId = typeof request.apk === "string" ? null : request.apk.fileId;
  if (fileId !== null && !ctx.fileSource) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      "apk.fileId needs the file service, which this process does not run; give a path under the packages root",
      { field: "apk.fileId" },
    );
  }
  let sharedExtras: Record<string, string> = {};
  try {
    if (request.extras) sharedExtras = validateExtras(request.extras, "extras", settings.limits);
  } catch (err) {
    throw fieldError(err, "extras");
  }
  const entries = channelEntries(request, settings.limits);
  try {
    rejectDuplicates(entries);
  } catch (err) {
    throw fieldError(err, "channels");
  }
  const template = request.name ?? settings.nameTemplate;
  try {
    validateTemplate(template);
  } catch (err) {
    throw fieldError(err, "name");
  }
  const queue = pickNamed(
    request.queue,
    settings.defaultQueue,
    [...ctx.backends.keys()],
    "queue",
    "queue",
  );
  const target = pickNamed(
    request.upload?.target,
    settings.defaultTarget,
    Object.keys(ctx.targetConfigs),
    "upload.target",
    "upload target",
  );
  const level = request.notify?.level ?? "none";
  const notifiers = Object.keys(ctx.notifierConfigs);
  const notifyTargets = level === "none" ? [] : (request.notify?.targets ?? notifiers);
  for (const [i, name] of notifyTargets.entries()) {
    pickNamed(name, name, notifiers, `notify.targets.${i}`, "notifier");
  }
  if (level !== "none" && notifyTargets.length === 0) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `notify.level ${level} needs a notifier, and none is configured (see docs/notifications.md)`,
      { field: "notify.level" },
    );
  }

  const id = newJobId();
  const prefix = keySpace(request.upload?.prefix ?? DEFAULT_UPLOAD_PREFIX, id);

  let apkPath: string;
  let mother;
  const apkLabel = fileId !== null ? `file:${fileId}` : (request.apk as string);
  const apkField = fileId !== null ? "apk.fileId" : "apk";
  try {
    apkPath =
      fileId !== null && ctx.fileSource
        ? (await ctx.fileSource(fileId)).path
        : await resolveMother(settings.packagesRoot, request.apk as string);
    mother = await ctx.mothers.get(id, apkPath);
  } catch (err) {
    // Messages name the mother as the request did, never where the server keeps it.
    throw fieldError(userFacing(err, settings.packagesRoot, apkLabel), apkField);
  }
  const byName = new Map<string, string>();
  const channels = entries.map((entry) => {
    const fileName = renderName(template, templateValues(apkPath, mother.manifest, entry.channel));
    const clash = byName.get(fileName);
    if (clash !== undefined) {
      throw new GamedockError(
        "E_OUTPUT_NAME",
        `channels ${JSON.stringify(clash)} and ${JSON.stringify(entry.channel)} would both be named ${fileName}; put {channel} in name`,
        { field: "name" },
      );
    }
    try {
      validateBlobKey(`${prefix}${fileName}`);
    } catch (err) {
      throw fieldError(err, "name");
    }
    byName.set(fileName, entry.channel);
    return { channel: entry.channel, extras: entry.extras, fileName };
  });

  const job: NewJob = {
    id,
    apk: apkLabel,
    apkPath,
    queue,
    target,
    prefix,
    nameTemplate: template,
    format: request.format ?? settings.format,
    notifyLevel: level,
    notifyTargets,
    sharedExtras,
    channels,
  };
  const createdAt = await ctx.store.jobs.create(job);
  const view = createdView(job, createdAt);
  for (const channel of channels) {
    await dispatchTask(ctx, queue, { jobId: id, channel: channel.channel }, "queued");
  }
  ctx.logger.info(
    { event: "job-created", jobId: id, apk: apkLabel, channels: channels.length, queue, target },
    "pack job created",
  );
  return view;
}
