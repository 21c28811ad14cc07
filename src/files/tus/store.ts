/**
 * The datastore @tus/server talks to: a wrapper around FileStore/S3Store
 * (inner-store.ts) that keeps gamedock's upload record (UploadRecord) and the
 * running sha256 + md5 in step with the bytes the inner store holds.
 *
 * - write() hashes the bytes on their way into the inner store and saves offset
 *   + hash state after every PATCH, so another instance (or this one after a
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
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DataStore, ERRORS, Upload } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import type { Logger } from "../../core/index.js";
import type { FileMetadata, UploadRecord } from "../contract.js";
import type { Limits, Quota, QuotaHold } from "../quota.js";
import { spoolVerified, type VerifiedSpool } from "./checksum.js";
import { currentRequest, requireRequest } from "./context.js";
import { ResumableDigests } from "./digests.js";
import { Finalizer } from "./finalize.js";
import type { InnerStore } from "./inner-store.js";
import { RecordCache } from "./record-cache.js";
import { QuotaGate } from "./quota-gate.js";
import { isNotFound, throwTus } from "./tus-errors.js";
import { describeUpload } from "./upload-metadata.js";

export interface TusStoreOptions {
  inner: InnerStore;
  /** The files target (the same one the inner store writes into). */
  blobs: BlobStore;
  metadata: FileMetadata;
  limits: Limits;
  uploadTtlSeconds: number;
  /** Lifetime of a finished file, seconds; 0 = kept until deleted. */
  fileTtlSeconds: number;
  /** Where checksummed PATCH bodies wait for verification. */
  spoolDir: string;
  logger: Logger;
  quota: Quota;
}

export class TusStore extends DataStore {
  private readonly inner: InnerStore;
  private readonly metadata: FileMetadata;
  private readonly records = new RecordCache();
  readonly finalizer: Finalizer;

  constructor(private readonly options: TusStoreOptions) {
    super();
    this.inner = options.inner;
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
    const innerId = this.inner.innerId(upload.id);
    const inner = new Upload({
      id: innerId,
      size: upload.size,
      offset: 0,
      metadata: upload.metadata,
      creation_date: upload.creation_date,
    });
    await this.inner.store.create(inner);
    // S3Store stamps its own creation time; Upload-Expires and our record follow it.
    upload.creation_date = inner.creation_date;
    const createdAt = new Date(upload.creation_date ?? Date.now());
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
      await this.inner.store.remove(innerId).catch(() => undefined);
      throw err;
    }
    this.records.set(record);
    if (upload.size === 0) {
      // No PATCH will come; an empty write completes S3's multipart upload (no-op on fs).
      await this.inner.store.write(Readable.from([]), innerId, 0);
    }
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
      try {
        [, newOffset] = await Promise.all([
          pipeline(source, meter),
          this.inner.store.write(meter, this.inner.innerId(id), offset),
        ]);
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
    let found: Upload;
    try {
      found = await this.inner.store.getUpload(this.inner.innerId(id));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Finished uploads leave the inner store's books; HEAD still answers for them.
      const finished = await this.finalizer.finishedUpload(id);
      if (finished) return finished;
      throwTus(ERRORS.FILE_NOT_FOUND);
    }
    const upload = new Upload({
      id,
      size: found.size,
      offset: found.offset,
      metadata: found.metadata,
      creation_date: found.creation_date,
      storage: found.storage,
    });
    if (upload.size !== undefined && upload.offset === upload.size) {
      // All bytes are in but registering the file did not happen (it failed, or
      // the instance died): finish it now, under this request's lock.
      await this.finalizer.finalize(id, null);
    }
    return upload;
  }

  override async declareUploadLength(id: string, length: number): Promise<void> {
    const record = await this.metadata.getUpload(id);
    if (!record) throwTus(ERRORS.FILE_NOT_FOUND);
    await this.holdOf(id, record.owner).set(length);
    await this.inner.store.declareUploadLength(this.inner.innerId(id), length);
    const next = { ...record, size: length };
    await this.metadata.saveUpload(next);
    this.records.set(next);
  }

  /** Termination (DELETE): the partial bytes, the store's books and our record. */
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
