/**
 * Expiration: an unfinished upload older than files.uploadTtlSeconds is
 * removed — its bytes, the inner store's books and its record. The list comes
 * from the shared metadata (not from the inner store), so any instance can
 * sweep every upload, and S3Store's own sweep (which would abort every
 * multipart upload in the bucket, also other services') is never used.
 */
import type { Locker } from "@tus/server";
import type { Logger } from "../../core/index.js";
import type { FileMetadata, UploadRecord } from "../contract.js";
import type { Finalizer } from "./finalize.js";

const BATCH = 100;
/** An upload whose lock is busy this long is left for the next sweep, ms. */
const LOCK_WAIT_MS = 5000;

export interface SweepDeps {
  metadata: FileMetadata;
  finalizer: Finalizer;
  locker: Locker;
  logger: Logger;
}

/** Returns how many expired uploads were removed. */
export async function sweepExpiredUploads(deps: SweepDeps, now: Date): Promise<number> {
  let removed = 0;
  const passed = new Set<string>(); // left in place this round (busy or failing)
  for (;;) {
    const batch = await deps.metadata.expiredUploads(now, BATCH);
    const fresh = batch.filter((record) => !passed.has(record.id));
    for (const record of fresh) {
      if (await sweepOne(deps, record)) removed += 1;
      else passed.add(record.id);
    }
    if (batch.length < BATCH || fresh.length === 0) break;
  }
  return removed;
}

async function sweepOne(deps: SweepDeps, record: UploadRecord): Promise<boolean> {
  const { id } = record;
  const lock = deps.locker.newLock(id);
  try {
    // Taking the lock asks a request still writing this upload to stop first.
    await lock.lock(AbortSignal.timeout(LOCK_WAIT_MS), () => undefined);
  } catch (err) {
    deps.logger.warn({ event: "tus-sweep-busy", id, err }, "expired upload is busy; next sweep");
    return false;
  }
  try {
    if (record.size !== null && record.offset === record.size) {
      // Every byte arrived but registering failed: finish it rather than lose it.
      await deps.finalizer.finalize(id, null);
      return false;
    }
    await deps.finalizer.discard(id);
    deps.logger.info(
      { event: "tus-upload-expired", id, offset: record.offset },
      "expired upload removed",
    );
    return true;
  } catch (err) {
    deps.logger.warn({ event: "tus-sweep-failed", id, err }, "removing an expired upload failed");
    return false;
  } finally {
    await lock.unlock();
  }
}
