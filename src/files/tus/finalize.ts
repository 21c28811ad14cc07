/**
 * The end of a tus upload: its bytes become a file (registerFile: dedupe by
 * sha256, file row last), then the upload record and the inner store's books
 * go. Every step is idempotent, so a finalize that failed halfway (database
 * down, instance killed) is simply run again — by the next HEAD or PATCH of
 * the upload, or by the sweeper — and ends the same way.
 */
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Upload } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import { GamedockError, type Logger } from "../../core/index.js";
import type { FileMetadata, UploadRecord } from "../contract.js";
import { registerFile } from "../register.js";
import { ResumableDigests, type FinalDigests } from "./digests.js";
import type { InnerStore } from "./inner-store.js";
import type { RecordCache } from "./record-cache.js";
import { isNotFound } from "./tus-errors.js";

export interface FinalizerOptions {
  inner: InnerStore;
  blobs: BlobStore;
  metadata: FileMetadata;
  records: RecordCache;
  fileTtlSeconds: number;
  logger: Logger;
}

export class Finalizer {
  constructor(private readonly options: FinalizerOptions) {}

  /** Registers the finished upload `id`; `known`: its digests, if write() kept them in step. */
  async finalize(id: string, known: FinalDigests | null): Promise<void> {
    const { metadata, inner, blobs } = this.options;
    if (await metadata.getFile(id)) {
      await this.forget(id); // registered before; only the books may be left
      return;
    }
    const record = await metadata.getUpload(id);
    if (!record) return; // discarded meanwhile
    const size = record.size ?? record.offset;
    const storedKey = inner.storedKey(id);
    const digests =
      known ?? (await this.savedDigests(record, size)) ?? (await this.rehash(storedKey, size));
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
          ? new Date(Date.now() + this.options.fileTtlSeconds * 1000)
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
   * Removes an unfinished upload: its bytes, the store's books and the record.
   * A registered upload only loses its books — its bytes are the file's blob.
   * Returns whether the inner store had the upload.
   */
  async discard(id: string): Promise<boolean> {
    if (await this.options.metadata.getFile(id)) {
      await this.forget(id);
      return false;
    }
    let stored = true;
    try {
      await this.options.inner.store.remove(this.options.inner.innerId(id));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      stored = false;
    }
    await this.forget(id);
    return stored;
  }

  /** Drops the upload record and the inner store's bookkeeping objects, never the bytes. */
  private async forget(id: string): Promise<void> {
    const { inner, blobs, metadata, records } = this.options;
    for (const key of inner.sidecarKeys(id)) await blobs.delete(key);
    await metadata.deleteUpload(id);
    records.delete(id);
  }

  private async savedDigests(record: UploadRecord, size: number): Promise<FinalDigests | null> {
    if (record.offset !== size) return null;
    if (size === 0) return (await ResumableDigests.fresh()).digest();
    if (record.hashState === null) return null;
    try {
      return (await ResumableDigests.resume(record.hashState)).digest();
    } catch {
      return null;
    }
  }

  /** The slow path after a lost hash state: read the stored object once. */
  private async rehash(key: string, size: number): Promise<FinalDigests> {
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
