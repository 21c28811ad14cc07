/**
 * The datastore @tus/server talks to. The bytes of an upload in progress are
 * a resumable upload of the files target (BlobStore.resumable) at `tus/<id>`,
 * which any instance can append to; gamedock's upload record (UploadRecord)
 * holds the name, owner, length, expiry and the running sha256 + md5.
 *
 * - write() hashes the bytes on their way into the store (natively, on the
 *   hash worker) and keeps the digests in memory for the upload's next
 *   PATCH; another instance, or this one after a restart, rebuilds them by
 *   reading the stored bytes back once (live-digests.ts). The record's
 *   offset is saved after every PATCH, its digests once the last byte is in.
 * - A PATCH with Upload-Checksum is verified before any byte reaches the store
 *   (checksum.ts), so a mismatch leaves the offset where it was.
 * - When the last byte is in, the upload becomes a file (finalize.ts).
 * - The owner's quota is held at creation (the declared length), when a
 *   deferred length is declared, and as bytes arrive while it is deferred
 *   (quota-gate.ts); the upload record's deletion gives it back.
 *
 * @tus/server holds the upload's lock around create, write, getUpload,
 * declareUploadLength and remove, across instances with the Redis locker.
 */
import type { Readable } from "node:stream";
import { DataStore, ERRORS, Upload } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import type { Clock, Logger } from "../../core/index.js";
import type { FileMetadata, UploadRecord } from "../contract.js";
import { DigestMeter } from "../digest-meter.js";
import type { OffThreadDigests } from "../hash-workers.js";
import type { Limits, Quota, QuotaHold } from "../quota.js";
import { spoolVerified, type VerifiedSpool } from "./checksum.js";
import { currentRequest, requireRequest } from "./context.js";
import { Finalizer, storedKeyOf } from "./finalize.js";
import { feed } from "./feed.js";
import { LiveDigests } from "./live-digests.js";
import { RecordCache } from "./record-cache.js";
import { QuotaGate } from "./quota-gate.js";
import { throwTus } from "./tus-errors.js";
import { describeUpload } from "./upload-metadata.js";

export interface TusStoreOptions {
  /** The files target: uploads in progress are its resumable uploads under `tus/`. */
  blobs: BlobStore;
  metadata: FileMetadata;
  limits: Limits;
  uploadTtlSeconds: number;
  /** Lifetime of a finished file, seconds; 0 = kept until deleted. */
  fileTtlSeconds: number;
  /** Where checksummed PATCH bodies wait for verification. */
  spoolDir: string;
  logger: Logger;
  /** Creation times and expiry (tests move it instead of waiting). */
  clock: Clock;
  quota: Quota;
}

export class TusStore extends DataStore {
  private readonly blobs: BlobStore;
  private readonly metadata: FileMetadata;
  private readonly records = new RecordCache();
  private readonly live: LiveDigests;
  readonly finalizer: Finalizer;

  constructor(private readonly options: TusStoreOptions) {
    super();
    this.blobs = options.blobs;
    this.metadata = options.metadata;
    this.live = new LiveDigests(options.blobs, options.logger);
    this.finalizer = new Finalizer({ ...options, records: this.records, live: this.live });
    // What works end to end; Tus-Extension is built from this list.
    this.extensions = [
      "creation",
      "creation-with-upload",
      "creation-defer-length",
      "termination",
      "expiration",
      "checksum",
    ];
  }

  override getExpiration(): number {
    return this.options.uploadTtlSeconds * 1000;
  }

  /** The space upload `id` holds against `owner`'s quota. */
  private holdOf(id: string, owner: string): QuotaHold {
    return this.options.quota.hold(id, owner, this.options.uploadTtlSeconds * 1000);
  }

  override async create(upload: Upload): Promise<Upload> {
    const hold = this.holdOf(upload.id, requireRequest().owner);
    if (upload.size !== undefined) await hold.set(upload.size); // E_QUOTA before anything is stored
    try {
      return await this.createRecorded(upload);
    } catch (err) {
      await hold.release();
      throw err;
    }
  }

  private async createRecorded(upload: Upload): Promise<Upload> {
    const { owner } = requireRequest();
    const { name, contentType } = describeUpload(upload.metadata, upload.id);
    const key = storedKeyOf(upload.id);
    await this.blobs.resumable.begin(key, { contentType });
    // Upload-Expires and our record's expiry both count from this.
    const createdAt = new Date(this.options.clock.now());
    upload.creation_date = createdAt.toISOString();
    const record: UploadRecord = {
      id: upload.id,
      name,
      contentType,
      owner,
      size: upload.size ?? null,
      offset: 0,
      digests: null,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + this.getExpiration()),
    };
    try {
      await this.metadata.saveUpload(record);
    } catch (err) {
      // If this fails too (or the instance dies here), the orphan sweep (sweep.ts) removes it.
      await this.blobs.resumable.abort(key).catch(() => undefined);
      throw err;
    }
    this.records.set(record);
    // An Upload-Length 0 upload is finished at once: onUploadFinish finalizes it.
    return upload;
  }

  override async write(body: Readable, id: string, offset: number): Promise<number> {
    const record = await this.recordAt(id, offset);
    const key = storedKeyOf(id);
    const checksum = currentRequest()?.checksum ?? null;
    let spool: VerifiedSpool | null = null;
    // While the length is deferred, the quota is held as bytes arrive and may stop the body.
    const gate =
      record.size === null && this.options.limits.quotaBytes > 0
        ? new QuotaGate(this.holdOf(id, record.owner), this.options.limits.quotaBytes)
        : null;
    let hashes: OffThreadDigests | null = null;
    try {
      if (checksum) spool = await spoolVerified(body, checksum, this.options.spoolDir);
      const unlimited = spool ? spool.open() : body;
      const source = gate ? gate.wrap(unlimited, offset, spool !== null) : unlimited;
      hashes = await this.live.take(id, key, offset);
      // Hashes on the worker thread and gathers socket reads into large writes.
      const meter = new DigestMeter({ hashes });
      const fed = feed(source, meter);
      let newOffset: number;
      try {
        newOffset = await this.blobs.resumable.append(key, offset, meter);
      } catch (err) {
        // Refused (offset, gone) or the store failed: stop the source too.
        meter.destroy();
        source.destroy();
        this.records.delete(id);
        // Some bytes may be stored: the digests still cover exactly them unless the store lost some.
        const stored = await this.blobs.resumable.offset(key).catch(() => null);
        if (hashes && stored === offset + meter.handed) this.live.keep(id, hashes, stored);
        else hashes?.drop();
        hashes = null;
        throw err;
      }
      const sourceFailure = await fed;
      const inStep = hashes !== null && newOffset === offset + meter.handed;
      const finished = record.size !== null && newOffset === record.size;
      const digests = inStep && finished ? await hashes!.hex() : null;
      if (inStep && !finished) this.live.keep(id, hashes!, newOffset);
      else if (!inStep) hashes?.drop();
      hashes = null;
      const next: UploadRecord = { ...record, offset: newOffset, digests };
      await this.metadata.saveUpload(next);
      this.records.set(next);
      if (finished) await this.finalizer.finalize(id, digests);
      if (sourceFailure !== null) throw sourceFailure; // the client went away: what it sent is kept
      if (gate?.stopped) throw gate.stopped;
      return newOffset;
    } finally {
      hashes?.drop(); // failed before the append
      await spool?.remove();
    }
  }

  override async getUpload(id: string): Promise<Upload> {
    const record = await this.metadata.getUpload(id);
    if (!record) {
      // Finished uploads leave no record; HEAD still answers for them.
      const finished = await this.finalizer.finishedUpload(id);
      if (finished) return finished;
      throwTus(ERRORS.FILE_NOT_FOUND);
    }
    const stored = await this.blobs.resumable.offset(storedKeyOf(id));
    const size = record.size ?? undefined;
    if (stored === null || (size !== undefined && stored === size)) {
      // All bytes are in (or the bytes already became the object) but
      // registering the file did not happen — it failed, or the instance
      // died: finish it now, under this request's lock, expired or not.
      await this.finalizer.finalize(id, null);
      const finished = await this.finalizer.finishedUpload(id);
      if (finished) return finished;
      throwTus(ERRORS.FILE_NO_LONGER_EXISTS);
    }
    if (this.options.clock.now() > record.expiresAt.getTime()) {
      throwTus(ERRORS.FILE_NO_LONGER_EXISTS); // the sweeper removes it
    }
    return new Upload({
      id,
      size,
      offset: stored,
      metadata: { filename: record.name, filetype: record.contentType },
      creation_date: record.createdAt.toISOString(),
    });
  }

  override async declareUploadLength(id: string, length: number): Promise<void> {
    const record = await this.metadata.getUpload(id);
    if (!record) throwTus(ERRORS.FILE_NOT_FOUND);
    await this.holdOf(id, record.owner).set(length);
    const next = { ...record, size: length };
    await this.metadata.saveUpload(next);
    this.records.set(next);
  }

  /** Termination (DELETE): the partial bytes and our record. */
  override async remove(id: string): Promise<void> {
    if (await this.metadata.getFile(id)) throwTus(ERRORS.INVALID_TERMINATION);
    const recorded = (await this.metadata.getUpload(id)) !== null;
    const stored = await this.finalizer.discard(id);
    if (!recorded && !stored) throwTus(ERRORS.FILE_NOT_FOUND);
  }

  /**
   * The upload's record: from memory when this instance took the previous
   * PATCH, else from the database. Its offset may lag the stored bytes (an
   * instance died mid-PATCH); the stored offset, which @tus/server checked
   * the PATCH against, is the one that counts.
   */
  private async recordAt(id: string, offset: number): Promise<UploadRecord> {
    let record = this.records.get(id) ?? null;
    // A deferred length may have been declared through another instance.
    if (!record || record.offset !== offset || record.size === null) {
      record = await this.metadata.getUpload(id);
    }
    if (!record) throwTus(ERRORS.FILE_NOT_FOUND);
    return record.offset === offset ? record : { ...record, offset };
  }
}
