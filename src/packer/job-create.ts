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
  validateTemplate,
  type ChannelEntry,
} from "../apk/index.js";
import { validateBlobPrefix } from "../blob/index.js";
import { GamedockError } from "../core/index.js";
import type { PackerContext } from "./context.js";
import { dispatchTask } from "./dispatch.js";
import { fieldError, parseJobRequest, type JobRequest } from "./job-request.js";
import type { JobView, NewJob } from "./model.js";
import { resolveMother } from "./mother-path.js";
import { jobView } from "./views.js";

/** Sortable by creation time, unguessable enough to be a URL. */
export function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
}

function channelEntries(request: JobRequest): ChannelEntry[] {
  const shared = request.extras ?? {};
  return request.channels.map((item, index) => {
    const field = typeof item === "string" ? `channels.${index}` : `channels.${index}.id`;
    const id = typeof item === "string" ? item : item.id;
    const own = typeof item === "string" ? {} : (item.extras ?? {});
    try {
      const channel = validateChannelId(id, field);
      if ("channel" in own || "channel" in shared) {
        throw new GamedockError(
          "E_EXTRA_INVALID",
          `${field}: extras must not use the key "channel"`,
        );
      }
      return { channel, extras: { ...shared, ...own }, source: field };
    } catch (err) {
      throw fieldError(err, field);
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

export async function createPackJob(ctx: PackerContext, body: unknown): Promise<JobView> {
  const request = parseJobRequest(body);
  const fileId = typeof request.apk === "string" ? null : request.apk.fileId;
  if (fileId !== null && !ctx.fileSource) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      "apk.fileId needs the file service, which this process does not run; give a path under the packages root",
      { field: "apk.fileId" },
    );
  }
  const entries = channelEntries(request);
  try {
    rejectDuplicates(entries);
  } catch (err) {
    throw fieldError(err, "channels");
  }
  const template = request.name ?? ctx.settings.nameTemplate;
  try {
    validateTemplate(template);
  } catch (err) {
    throw fieldError(err, "name");
  }
  const settings = ctx.settings;
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
  const prefix = request.upload?.prefix ?? `pack-jobs/${id}/`;
  if (prefix !== "") {
    try {
      validateBlobPrefix(prefix);
    } catch (err) {
      throw fieldError(err, "upload.prefix");
    }
  }

  let apkPath: string;
  let mother;
  try {
    apkPath =
      fileId !== null && ctx.fileSource
        ? (await ctx.fileSource(fileId)).path
        : await resolveMother(settings.packagesRoot, request.apk as string);
    mother = await ctx.mothers.get(id, apkPath);
  } catch (err) {
    throw fieldError(err, fileId !== null ? "apk.fileId" : "apk");
  }
  const apkLabel = fileId !== null ? `file:${fileId}` : (request.apk as string);
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
    channels,
  };
  await ctx.store.createJob(job);
  for (const channel of channels) {
    await dispatchTask(ctx, queue, { jobId: id, channel: channel.channel }, "queued");
  }
  ctx.logger.info(
    { event: "job-created", jobId: id, apk: apkLabel, channels: channels.length, queue, target },
    "pack job created",
  );
  const row = await ctx.store.getJobRow(id);
  if (!row) throw new GamedockError("E_INTERNAL", `job ${id} vanished after it was created`);
  return jobView(row, await ctx.store.tasksOf(id));
}
