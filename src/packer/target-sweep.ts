/**
 * What composing leaves on the targets, swept with every recovery sweep on
 * the targets this process has opened (a target it never used is never
 * contacted; its leftovers wait for the first process that uses it):
 *
 * - Mothers (`mothers/<sha256>.apk`) that no unfinished job needs, once
 *   `packer.motherRetentionMs` has passed since the last job that used one
 *   finished (or since it was stored, if no job recorded it).
 * - Multipart uploads of gamedock's keys that nobody will finish: a child's
 *   key whose channel no live process is storing (an upload a checkpoint
 *   will resume is kept) and a mother's whose jobs have all finished.
 *   Uploads of keys outside gamedock's areas and job key spaces (another
 *   program's, in a shared bucket) are left alone.
 * - What the store's driver left of its own (`removeAbandoned`: on s3, the
 *   leftovers of killed compose probes).
 */
import type { BlobStore, IncompleteUpload } from "../blob/index.js";
import type { PackerContext } from "./context.js";
import { MOTHER_AREA, forgetMother } from "./mother-upload.js";

const MOTHER_NAME = /^mothers\/([0-9a-f]{64})\.apk$/;

export interface TargetSweepCounts {
  mothers: number;
  uploads: number;
}

export async function sweepComposeLeftovers(ctx: PackerContext): Promise<TargetSweepCounts> {
  const counts: TargetSweepCounts = { mothers: 0, uploads: 0 };
  for (const [name, opening] of ctx.openedTargets()) {
    const store = await opening.catch(() => null);
    if (store === null) continue; // the stage that opens it reports why it cannot
    counts.mothers += await deleteUnneededMothers(ctx, name, store);
    counts.uploads += await abortOrphanedUploads(ctx, name, store);
    // fs targets: sweepTargets (work-cleanup.ts) already did, opened or not.
    if (store.driver !== "fs") counts.uploads += await store.removeAbandoned();
  }
  return counts;
}

async function deleteUnneededMothers(
  ctx: PackerContext,
  target: string,
  store: BlobStore,
): Promise<number> {
  let deleted = 0;
  for await (const object of store.list(MOTHER_AREA)) {
    const sha256 = MOTHER_NAME.exec(object.key)?.[1];
    if (sha256 === undefined) continue;
    const use = await ctx.store.jobs.motherUse(target, sha256);
    if (use.unfinished > 0) continue;
    const lastNeeded = Math.max(use.lastFinishedAt ?? 0, object.lastModified.getTime());
    if (Date.now() - lastNeeded < ctx.settings.motherRetentionMs) continue;
    forgetMother(ctx, target, sha256);
    await store.delete(object.key);
    ctx.logger.info(
      { event: "mother-deleted", target, key: object.key, size: object.size },
      "deleted a mother no job needs",
    );
    deleted++;
  }
  return deleted;
}

async function abortOrphanedUploads(
  ctx: PackerContext,
  target: string,
  store: BlobStore,
): Promise<number> {
  let aborted = 0;
  for (const upload of await store.incompleteUploads()) {
    // Younger than a lease: its writer may not have recorded anything yet.
    if (Date.now() - upload.initiated.getTime() < ctx.settings.leaseMs) continue;
    if ((await ownerOf(ctx, target, upload)) !== "orphan") continue;
    await store.abortUpload(upload);
    ctx.logger.info(
      { event: "upload-aborted", target, key: upload.key, initiated: upload.initiated },
      "aborted a multipart upload nobody will finish",
    );
    aborted++;
  }
  return aborted;
}

/** Who an incomplete upload belongs to: gamedock with a live writer, an orphan of gamedock's, or not gamedock's. */
async function ownerOf(
  ctx: PackerContext,
  target: string,
  upload: IncompleteUpload,
): Promise<"live" | "orphan" | "foreign"> {
  const { key } = upload;
  const mother = MOTHER_NAME.exec(key)?.[1];
  if (mother !== undefined) {
    return (await ctx.store.jobs.motherUse(target, mother)).unfinished > 0 ? "live" : "orphan";
  }
  const slash = key.lastIndexOf("/");
  const job = await ctx.store.jobs.byPrefix(target, key.slice(0, slash + 1));
  if (!job) return "foreign";
  const task = await ctx.store.tasks.byFileName(job.id, key.slice(slash + 1));
  if (!task) return "orphan";
  const ref = { jobId: task.job_id, channel: task.channel };
  const storing = task.state === "packing" || task.state === "uploading";
  if (storing && task.owner !== null && ctx.holderIsLive(ref, task.owner, task.lease_until)) {
    return "live";
  }
  // A checkpoint of this very upload: the upload stage resumes it.
  if (task.state === "uploading" && task.upload_checkpoint?.includes(upload.uploadId) === true) {
    return "live";
  }
  return "orphan";
}
