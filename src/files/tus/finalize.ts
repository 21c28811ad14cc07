/**
 * The end of a tus upload: the resumable upload at `tus/<id>` is completed
 * (its bytes become that object in one step), the object becomes a file
 * (registerFile: dedupe by sha256, file row last), then the upload record
 * goes. Every step is idempotent, so a finalize that failed halfway (database
 * down, instance killed) is simply run again — by the next HEAD or PATCH of
 * the upload, or by the sweeper — and ends the same way.
 */
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Upload } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import { GamedockError, isGamedockError, type Clock, type Logger } from "../../core/index.js";
import type { FileMetadata, UploadDigests, UploadRecord } from "../contract.js";
import { registerFile } from "../register.js";
import type { LiveDigests } from "./live-digests.js";
import type { RecordCache } from "./record-cache.js";

/** Uploads in progress, and the files they become, are these keys of the files target. */
export const TUS_PREFIX = "tus/";

export const storedKeyOf = (id: string): string => `${TUS_PREFIX}${id}`;

export interface FinalizerOptions {
  blobs: BlobStore;
  metadata: FileMetadata;
  records: RecordCache;
  live: LiveDigests;
  fileTtlSeconds: number;
  logger: Logger;
  clock: Clock;
}

/** sha256 and md5 of no bytes. */
const EMPTY: UploadDigests = {
  sha256: createHash("sha256").digest("hex"),
  md5: createHash("md5").digest("hex"),
};

/** The digests the record saved once every byte was in (an empty upload's are known). */
function savedDigests(record: UploadRecord, size: number): UploadDigests | null {
  if (record.offset !== size) return null;
  return size === 0 ? EMPTY : record.digests;
}

export class Finalizer {
  constructor(private readonly options: FinalizerOptions) {}

  /** Registers the finished upload `id`; `known`: its digests, if write() kept them in step. */
  async finalize(id: string, known: UploadDigests | null): Promise<void> {
    const { metadata, blobs, clock } = this.options;
    if (await metadata.getFile(id)) {
      await this.forget(id); // registered before; only the record may be left
      return;
    }
    const record = await metadata.getUpload(id);
    if (!record) return; // discarded meanwhile
    const size = record.size ?? record.offset;
    const storedKey = storedKeyOf(id);
    const completed = await this.complete(storedKey, size);
    const digests =
      known ??
      savedDigests(record, size) ??
      (completed ? await this.rehash(storedKey, size) : null);
    // Not at its key: an earlier finalize may have found the bytes a duplicate of
    // a stored blob and deleted them just before a crash; that blob serves the file.
    if (digests === null || (!completed && !(await metadata.findBlob(digests.sha256)))) {
      this.options.logger.error(
        { event: "tus-upload-lost", id, size },
        "a finished upload's bytes are gone from the target; its record is removed",
      );
      await this.forget(id);
      return;
    }
    const { file, deduplicated } = await registerFile(metadata, blobs, {
      id,
      name: record.name,
      contentType: record.contentType,
      owner: record.owner,
      size,
      sha256: digests.sha256,
      md5: digests.md5,
      storedKey,
      expiresAt:
        this.options.fileTtlSeconds > 0
          ? new Date(clock.now() + this.options.fileTtlSeconds * 1000)
          : null,
    });
    await this.forget(id);
    this.options.logger.info(
      { event: "tus-upload-finished", id, size, sha256: file.sha256, deduplicated },
      "tus upload finished",
    );
  }

  /** A registered file as the finished tus upload HEAD reports (offset = length). */
  async finishedUpload(id: string): Promise<Upload | null> {
    const file = await this.options.metadata.getFile(id);
    if (!file) return null;
    return new Upload({
      id,
      size: file.size,
      offset: file.size,
      metadata: { filename: file.name, filetype: file.contentType },
      // @tus/server answers 410 for an upload older than the upload TTL; a
      // finished one lives as long as its file, so it is dated now.
      creation_date: new Date().toISOString(),
    });
  }

  /**
   * Removes an unfinished upload: its bytes and the record. A registered
   * upload only loses its record — its bytes are the file's blob. Returns
   * whether the target had the upload.
   */
  async discard(id: string): Promise<boolean> {
    if (await this.options.metadata.getFile(id)) {
      await this.forget(id);
      return false;
    }
    const stored = await this.options.blobs.resumable.abort(storedKeyOf(id));
    await this.forget(id);
    return stored;
  }

  /**
   * Makes the upload's bytes the object at `key`; false when they are gone. An
   * earlier complete may already have done it (and then been cut short).
   */
  private async complete(key: string, size: number): Promise<boolean> {
    const { blobs } = this.options;
    try {
      await blobs.resumable.complete(key);
      return true;
    } catch (err) {
      if (!isGamedockError(err) || err.code !== "E_NOT_FOUND") throw err;
    }
    return (await blobs.head(key))?.size === size;
  }

  /** Drops the upload record (ours and this instance's copy), never the bytes. */
  private async forget(id: string): Promise<void> {
    await this.options.metadata.deleteUpload(id);
    this.options.records.delete(id);
    this.options.live.forget(id);
  }

  /** The slow path when the digests were not kept in step: read the stored object once. */
  private async rehash(key: string, size: number): Promise<UploadDigests> {
    this.options.logger.warn(
      { event: "tus-rehash", key, size },
      "computing an upload's digests from the stored object",
    );
    const sha256 = createHash("sha256");
    const md5 = createHash("md5");
    let seen = 0;
    await pipeline(
      await this.options.blobs.get(key),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          sha256.update(chunk);
          md5.update(chunk);
          seen += chunk.length;
          callback();
        },
      }),
    );
    if (seen !== size) {
      throw new GamedockError(
        "E_INTERNAL",
        `stored upload ${key} has ${seen} bytes where ${size} were received`,
        { key, size, seen },
      );
    }
    return { sha256: sha256.digest("hex"), md5: md5.digest("hex") };
  }
}
