/**
 * The datastore @tus/server talks to. The bytes of an upload in progress are
 * a resumable upload of the files target (BlobStore.resumable) at `tus/<id>`,
 * which any instance can append to; gamedock's upload record (UploadRecord)
 * holds the name, owner, length, expiry and the running sha256 + md5.
 *
 * - write() hashes the bytes on their way into the store and saves offset +
 *   hash state after every PATCH, so another instance (or this one after a
 *   restart) continues the digests where they stopped.
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
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DataStore, ERRORS, Upload } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import type { Clock, Logger } from "../../core/index.js";
import type { FileMetadata, UploadRecord } from "../contract.js";
import type { Limits, Quota, QuotaHold } from "../quota.js";
import { spoolVerified, type VerifiedSpool } from "./checksum.js";
import { currentRequest, requireRequest } from "./context.js";
import { ResumableDigests } from "./digests.js";
import { Finalizer, storedKeyOf } from "./finalize.js";
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
  readonly finalizer: Finalizer;

  constructor(private readonly options: TusStoreOptions) {
    super();
    this.blobs = options.blobs;
    this.metadata = options.metadata;
    this.finalizer = new Finalizer({ ...options, records: this.records });
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
      hashState: null,
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
    const checksum = currentRequest()?.checksum ?? null;
    let spool: VerifiedSpool | null = null;
    // While the length is deferred, the quota is held as bytes arrive and may stop the body.
    const gate =
      record.size === null && this.options.limits.quotaBytes > 0
        ? new QuotaGate(this.holdOf(id, record.owner), this.options.limits.quotaBytes)
        : null;
    try {
      if (checksum) spool = await spoolVerified(body, checksum, this.options.spoolDir);
      const unlimited = spool ? spool.open() : body;
      const source = gate ? gate.wrap(unlimited, offset, spool !== null) : unlimited;
      const digests = await this.digestsOf(record);
      let hashed = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          digests?.update(chunk);
          hashed += chunk.length;
          callback(null, chunk);
        },
      });
      let newOffset: number;
      const piping = pipeline(source, meter);
      // A failed source reaches the append through the meter; a failed append
      // destroys the meter, and then the store's error is the one to report.
      piping.catch(() => undefined);
      try {
        newOffset = await this.blobs.resumable
          .append(storedKeyOf(id), offset, meter)
          .catch((err: unknown) => {
            meter.destroy(); // refused before reading (offset, gone): stop the source too
            throw err;
          });
        await piping;
      } catch (err) {
        // Some bytes may be stored and not saved as hashed: the next PATCH
        // finds its offset ahead of the record and falls back (recordAt).
        this.records.delete(id);
        throw err;
      }
      const inStep = digests !== null && newOffset === offset + hashed;
      const next: UploadRecord = {
        ...record,
        offset: newOffset,
        hashState: inStep ? digests.save() : null,
      };
      await this.metadata.saveUpload(next);
      this.records.set(next);
      if (gate?.stopped) throw gate.stopped;
      if (next.size !== null && newOffset === next.size) {
        await this.finalizer.finalize(id, inStep ? digests.digest() : null);
      }
      return newOffset;
    } finally {
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
   * The record whose hash state matches `offset` bytes: from memory when this
   * instance took the previous PATCH, else from the database. If the bytes
   * stored got ahead of the saved state (an instance died mid-PATCH), the
   * digests can no longer be continued and are computed from the stored
   * object when the upload finishes (hashState null at a nonzero offset).
   */
  private async recordAt(id: string, offset: number): Promise<UploadRecord> {
    let record = this.records.get(id) ?? null;
    // A deferred length may have been declared through another instance.
    if (!record || record.offset !== offset || record.size === null) {
      record = await this.metadata.getUpload(id);
    }
    if (!record) throwTus(ERRORS.FILE_NOT_FOUND);
    if (record.offset !== offset) {
      this.options.logger.warn(
        { event: "tus-hash-state-behind", id, recorded: record.offset, stored: offset },
        "upload's hash state is behind its bytes; digests will be computed from the stored object",
      );
      record = { ...record, offset, hashState: null };
    }
    return record;
  }

  private async digestsOf(record: UploadRecord): Promise<ResumableDigests | null> {
    if (record.offset === 0) return ResumableDigests.fresh();
    if (record.hashState === null) return null;
    try {
      return await ResumableDigests.resume(record.hashState);
    } catch (err) {
      this.options.logger.warn(
        { event: "tus-hash-state-unusable", id: record.id, err },
        "saved hash state cannot be loaded; digests will be computed from the stored object",
      );
      return null;
    }
  }
}
