/**
 * The one validator of a pack-job request, for the create and its dry run
 * (design note 000's pre-pack checks: parameters, mother exists, readable,
 * signed, output names). Every check runs and records what it finds per
 * field instead of stopping at the first; a check that depends on a broken
 * field (the output names need a mother and a template) is skipped. Nothing
 * is stored or queued here: the mother is opened (and cached under the job's
 * id), and a mother given by file id is copied to the packages root's cache
 * the way packing needs it.
 */
import {
  rejectDuplicates,
  renderName,
  templateValues,
  validateChannelId,
  validateExtras,
  validateTemplate,
  type ChannelEntry,
  type ExtrasLimits,
  type ManifestInfo,
} from "../apk/index.js";
import { refuseReserved, validateBlobKey, validateBlobPrefix } from "../blob/index.js";
import { GamedockError } from "../core/index.js";
import type { NotifyLevel } from "../notify/index.js";
import type { PackerContext } from "./context.js";
import { FieldProblems } from "./field-problems.js";
import { readJobRequest, type JobRequestParts } from "./job-request.js";
import type { NewJob } from "./model.js";
import { resolveMother, userFacing } from "./mother-path.js";

/** A job's keys go under "<prefix><job id>/"; this is the prefix when a request names none. */
export const DEFAULT_UPLOAD_PREFIX = "pack-jobs/";

export type JobCheck =
  { ok: true; job: NewJob; manifest: ManifestInfo } | { ok: false; problems: FieldProblems };

function channelEntries(
  channels: JobRequestParts["channels"],
  limits: ExtrasLimits,
  problems: FieldProblems,
): ChannelEntry[] {
  const entries: ChannelEntry[] = [];
  for (const { index, item } of channels) {
    const idField = typeof item === "string" ? `channels.${index}` : `channels.${index}.id`;
    // A channel given with extras is named as a whole, as details.field always named it.
    const field = typeof item !== "string" && item.extras ? `channels.${index}` : idField;
    const channel = problems.check(field, () =>
      validateChannelId(typeof item === "string" ? item : item.id, idField),
    );
    const own =
      typeof item === "string" || item.extras === undefined
        ? {}
        : problems.check(field, () =>
            validateExtras(item.extras, `channels.${index}.extras`, limits),
          );
    if (channel !== undefined && own !== undefined) {
      entries.push({ channel, extras: own, source: idField });
    }
  }
  return entries;
}

/** `value ?? fallback` when it is one of `known`; else a problem of `field`. */
function pickNamed(
  problems: FieldProblems,
  value: string | undefined,
  fallback: string,
  known: readonly string[],
  field: string,
  what: string,
): string | undefined {
  const name = value ?? fallback;
  if (known.includes(name)) return name;
  problems.add(
    new GamedockError(
      "E_INVALID_REQUEST",
      `${field}: ${what} ${JSON.stringify(name)} is not configured (configured: ${known.join(", ") || "none"})`,
    ),
    field,
  );
  return undefined;
}

/** "<prefix><job id>/": only this job writes there, and gamedock's own areas are out of reach. */
function keySpace(prefix: string, id: string): string {
  const space = `${prefix}${id}/`;
  validateBlobPrefix(space);
  refuseReserved(space, "upload.prefix");
  return space;
}

function checkNotify(
  ctx: PackerContext,
  notify: { level: NotifyLevel; targets?: string[] | undefined } | undefined,
  problems: FieldProblems,
): { level: NotifyLevel; targets: string[] } {
  const level = notify?.level ?? "none";
  const notifiers = Object.keys(ctx.notifierConfigs);
  const targets = level === "none" ? [] : (notify?.targets ?? notifiers);
  for (const [i, name] of targets.entries()) {
    pickNamed(problems, name, name, notifiers, `notify.targets.${i}`, "notifier");
  }
  if (level !== "none" && targets.length === 0) {
    problems.add(
      new GamedockError(
        "E_INVALID_REQUEST",
        `notify.level ${level} needs a notifier, and none is configured (see docs/notifications.md)`,
      ),
      "notify.level",
    );
  }
  return { level, targets };
}

/**
 * Each channel's object name. Checked until the first problem: a template
 * without {channel} would otherwise report every channel of the job.
 */
function outputNames(
  entries: readonly ChannelEntry[],
  render: (channel: string) => string,
  prefix: string,
  problems: FieldProblems,
): Map<string, string> {
  const names = new Map<string, string>();
  const byName = new Map<string, string>();
  for (const entry of entries) {
    if (names.has(entry.channel)) continue; // a duplicate, already a problem of "channels"
    const fileName = problems.check("name", () => render(entry.channel));
    if (fileName === undefined) break;
    const clash = byName.get(fileName);
    if (clash !== undefined) {
      problems.add(
        new GamedockError(
          "E_OUTPUT_NAME",
          `channels ${JSON.stringify(clash)} and ${JSON.stringify(entry.channel)} would both be named ${fileName}; put {channel} in name`,
        ),
        "name",
      );
      break;
    }
    const keyOk = problems.check("name", () => {
      validateBlobKey(`${prefix}${fileName}`);
      return true;
    });
    if (!keyOk) break;
    byName.set(fileName, entry.channel);
    names.set(entry.channel, fileName);
  }
  return names;
}

/** Every check of a create, for job `id`; its problems, or the job ready to store. */
export async function checkJobRequest(
  ctx: PackerContext,
  body: unknown,
  id: string,
): Promise<JobCheck> {
  const { settings } = ctx;
  const problems = new FieldProblems();
  const parts = readJobRequest(body, settings.limits.maxChannels, problems);
  if (!parts) return { ok: false, problems };
  const { request, broken } = parts;

  const fileId = typeof request.apk === "object" ? request.apk.fileId : null;
  if (fileId !== null && !ctx.fileSource) {
    problems.add(
      new GamedockError(
        "E_INVALID_REQUEST",
        "apk.fileId needs the file service, which this process does not run; give a path under the packages root",
      ),
      "apk.fileId",
    );
  }
  const shared = request.extras;
  const sharedExtras = shared
    ? problems.check("extras", () => validateExtras(shared, "extras", settings.limits))
    : {};
  const entries = channelEntries(parts.channels, settings.limits, problems);
  problems.check("channels", () => {
    rejectDuplicates(entries);
  });
  const template = request.name ?? settings.nameTemplate;
  const templateOk =
    !broken.has("name") &&
    problems.check("name", () => {
      validateTemplate(template);
      return true;
    }) === true;
  const knownQueues = [...ctx.backends.keys()];
  const queue = broken.has("queue")
    ? undefined
    : pickNamed(problems, request.queue, settings.defaultQueue, knownQueues, "queue", "queue");
  const upload = broken.has("upload") ? undefined : (request.upload ?? {});
  const target =
    upload &&
    pickNamed(
      problems,
      upload.target,
      settings.defaultTarget,
      Object.keys(ctx.targetConfigs),
      "upload.target",
      "upload target",
    );
  const notify = broken.has("notify") ? undefined : checkNotify(ctx, request.notify, problems);
  const prefix =
    upload &&
    problems.check("upload.prefix", () => keySpace(upload.prefix ?? DEFAULT_UPLOAD_PREFIX, id));

  // I/O last, as before: a missing mother is one more problem, not the end of the checks.
  const apk = request.apk;
  const apkLabel = typeof apk === "object" ? `file:${apk.fileId}` : (apk ?? "");
  const apkField = typeof apk === "object" ? "apk.fileId" : "apk";
  const fileSource = ctx.fileSource;
  const mother =
    apk === undefined || (typeof apk === "object" && !fileSource)
      ? undefined
      : await problems.checkAsync(apkField, async () => {
          try {
            const path =
              typeof apk === "object" && fileSource
                ? (await fileSource(apk.fileId)).path
                : await resolveMother(settings.packagesRoot, apk as string);
            return { path, manifest: (await ctx.mothers.get(id, path)).manifest };
          } catch (err) {
            // Messages name the mother as the request did, never where the server keeps it.
            throw userFacing(err, settings.packagesRoot, apkLabel);
          }
        });
  const names =
    mother && templateOk && prefix !== undefined
      ? outputNames(
          entries,
          (channel) => renderName(template, templateValues(mother.path, mother.manifest, channel)),
          prefix,
          problems,
        )
      : undefined;

  if (problems.count > 0) return { ok: false, problems };
  if (
    !mother ||
    !names ||
    !notify ||
    queue === undefined ||
    target === undefined ||
    prefix === undefined ||
    sharedExtras === undefined
  ) {
    throw new GamedockError("E_INTERNAL", "a pack-job request passed its checks incompletely");
  }
  const job: NewJob = {
    id,
    apk: apkLabel,
    apkPath: mother.path,
    queue,
    target,
    prefix,
    nameTemplate: template,
    format: request.format ?? settings.format,
    notifyLevel: notify.level,
    notifyTargets: notify.targets,
    sharedExtras,
    channels: entries.map((entry) => ({
      channel: entry.channel,
      extras: entry.extras,
      fileName: names.get(entry.channel) ?? "",
    })),
  };
  return { ok: true, job, manifest: mother.manifest };
}
