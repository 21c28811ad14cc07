/**
 * The mother on the target, for children composed there: uploaded once per
 * target and content, to `mothers/<sha256>.apk` in the area gamedock
 * reserves (no job's key space can name it), with its SHA-256 recorded in
 * the object's metadata. An object already there of the same size with
 * that recorded digest is used as it is; anything else there (a different
 * size, no digest: an interrupted or foreign write) is replaced. A multipart
 * ETag is not a digest, hence the metadata.
 *
 * The job records the mother before looking for it, so the mother sweep
 * (mother-sweep.ts) never deletes one a running job is about to compose from.
 */
import { stat } from "node:fs/promises";
import type { BlobStore } from "../blob/index.js";
import { fsError } from "../core/index.js";
import { abortOtherUploads } from "./channel-stored.js";
import type { PackerContext } from "./context.js";
import type { JobRow } from "./store/index.js";

export const MOTHER_AREA = "mothers/";
/** The object metadata that holds a mother's SHA-256 (x-amz-meta-gamedock-sha256 on s3). */
export const MOTHER_DIGEST = "gamedock-sha256";
export const APK_CONTENT_TYPE = "application/vnd.android.package-archive";

export function motherKey(sha256: string): string {
  return `${MOTHER_AREA}${sha256}.apk`;
}

/** Makes sure job's mother (SHA-256 `sha256`) is on the job's target; returns its key. */
export async function ensureMother(
  ctx: PackerContext,
  job: JobRow,
  store: BlobStore,
  sha256: string,
): Promise<string> {
  if (job.mother_sha256 !== sha256) await ctx.store.jobs.recordMother(job.id, sha256);
  const slot = `${job.target}\0${sha256}`;
  const placed = ctx.placedMothers;
  let ready = placed.get(slot);
  if (!ready) {
    ready = placeMother(ctx, job, store, sha256);
    ready.catch(() => placed.delete(slot));
    placed.set(slot, ready);
  }
  return ready;
}

/** After a compose found no mother (swept meanwhile): the next call looks again. */
export function forgetMother(ctx: PackerContext, target: string, sha256: string): void {
  ctx.placedMothers.delete(`${target}\0${sha256}`);
}

async function placeMother(
  ctx: PackerContext,
  job: JobRow,
  store: BlobStore,
  sha256: string,
): Promise<string> {
  const key = motherKey(sha256);
  const { size } = await stat(job.apk_path).catch((err: unknown) => {
    throw fsError(err, job.apk_path, "mother APK");
  });
  const log = ctx.logger.child({ jobId: job.id, target: job.target, key });
  const found = await store.head(key);
  if (found?.size === size && found.metadata[MOTHER_DIGEST] === sha256) {
    log.info({ event: "mother-present", size }, "mother already on the target");
    return key;
  }
  const started = Date.now();
  await store.putFile(key, job.apk_path, {
    contentType: APK_CONTENT_TYPE,
    metadata: { [MOTHER_DIGEST]: sha256 },
    signal: ctx.signal,
  });
  // What an earlier, killed upload of it left (this content's only writer is gamedock).
  await abortOtherUploads(store, key);
  log.info({ event: "mother-uploaded", size, ms: Date.now() - started }, "mother uploaded");
  return key;
}
