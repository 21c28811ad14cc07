/**
 * What the tus side of the sweeper removes:
 *
 * - Expired uploads: an unfinished upload older than files.uploadTtlSeconds
 *   goes — its bytes and its record. The list comes from the shared metadata,
 *   so any instance can sweep every upload.
 * - Orphans: storage begun for an upload whose record was never saved (the
 *   database failed, or the instance died between the two). Such an upload
 *   can never be reached by a client; once it is older than ORPHAN_GRACE_MS —
 *   far longer than any create takes — its bytes are removed.
 */
import type { Locker } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import type { Logger } from "../../core/index.js";
import type { FileMetadata, UploadRecord } from "../contract.js";
import { TUS_PREFIX, storedKeyOf, type Finalizer } from "./finalize.js";

const BATCH = 100;
/** An upload whose lock is busy this long is left for the next sweep, ms. */
const LOCK_WAIT_MS = 5000;
/** Storage without a record this old cannot belong to a create in progress, ms. */
export const ORPHAN_GRACE_MS = 15 * 60 * 1000;

export interface SweepDeps {
  blobs: BlobStore;
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
    const stored = record.size === null ? null : await deps.blobs.resumable.offset(storedKeyOf(id));
    if (record.size !== null && (record.offset === record.size || stored === record.size)) {
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

export interface OrphanDeps {
  blobs: BlobStore;
  metadata: FileMetadata;
  logger: Logger;
}

/** Removes uploads in progress under `tus/` that have no record; returns how many. */
export async function sweepOrphanedUploads(deps: OrphanDeps, now: Date): Promise<number> {
  const before = now.getTime() - ORPHAN_GRACE_MS;
  let removed = 0;
  for await (const upload of deps.blobs.resumable.list(TUS_PREFIX)) {
    if (upload.lastModified.getTime() > before) continue;
    const id = upload.key.slice(TUS_PREFIX.length);
    if (await deps.metadata.getUpload(id)) continue; // the expiry sweep's business
    try {
      if (await deps.blobs.resumable.abort(upload.key)) removed += 1;
      deps.logger.info(
        { event: "tus-orphan-removed", key: upload.key },
        "upload storage without a record removed",
      );
    } catch (err) {
      deps.logger.warn(
        { event: "tus-sweep-failed", key: upload.key, err },
        "removing an orphaned upload failed",
      );
    }
  }
  return removed;
}
