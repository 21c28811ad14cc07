/**
 * Resumable uploads of the fs driver (contract: ResumableUploads). An upload
 * in progress is two files in <root>/.gamedock/uploads/, named by the sha256
 * of its key (fs-layout.ts):
 *
 * - `<h>.data`: the bytes so far, appended in place and fsynced before an
 *   append returns. The upload exists exactly while this file exists.
 * - `<h>.key`: the key, for list().
 *
 * begin writes `.key` first and moves a fresh empty `.data` into place last;
 * complete renames `.data` onto the object's path (one atomic step on one
 * file system) and then drops `.key`; abort moves `.data` into the temp
 * directory before deleting it. A crash between two steps leaves at most a
 * `.key` without `.data`, which removeLeftovers() deletes once it is too old
 * to belong to a begin in progress.
 */
import type { BigIntStats } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { claimTempPath, errnoCode, fsError, releaseTemp } from "../../core/index.js";
import { checkAppendOffset, checkStoredRange, noUploadAt, offsetMismatch } from "../body.js";
import type { BlobInfo, BlobKey, ResumableUploadInfo, ResumableUploads } from "../contract.js";
import { validateBlobPrefix, validateResumableKey } from "../keys.js";
import { syncDir, writeAtomically } from "./fs-atomic.js";
import { writeError } from "./fs-errors.js";
import { DATA_SUFFIX, META_SUFFIX, type FsLayout } from "./fs-layout.js";
import { appendBody } from "./fs-stream-writer.js";

/** A `.key` without `.data` this old cannot belong to a begin in progress, ms. */
export const LEFTOVER_AGE_MS = 10 * 60 * 1000;
/** Reads of an upload in progress come in pieces this large. */
const READ_BYTES = 1024 * 1024;

const isMissing = (err: unknown): boolean => ["ENOENT", "ENOTDIR"].includes(errnoCode(err) ?? "");

export class FsResumableUploads implements ResumableUploads {
  constructor(
    private readonly layout: FsLayout,
    private readonly infoOf: (key: BlobKey, stats: BigIntStats) => BlobInfo,
  ) {}

  async begin(key: BlobKey): Promise<void> {
    validateResumableKey(key);
    this.layout.objectPath(key); // a key the fs layout can never hold fails now, not at complete
    const { data, meta } = this.layout.uploadFiles(key);
    await this.abort(key);
    const record = JSON.stringify({ key });
    await writeAtomically(meta, this.layout.tempDir, (temp) =>
      writeFile(temp, record, { flag: "wx" }),
    );
    // The empty data file appears last: from then on the upload exists.
    await writeAtomically(data, this.layout.tempDir, (temp) => writeFile(temp, "", { flag: "wx" }));
  }

  async offset(key: BlobKey): Promise<number | null> {
    validateResumableKey(key);
    const { data } = this.layout.uploadFiles(key);
    try {
      return (await stat(data)).size;
    } catch (err) {
      if (isMissing(err)) return null;
      throw fsError(err, data, "upload in progress");
    }
  }

  async append(
    key: BlobKey,
    offset: number,
    body: Readable,
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    validateResumableKey(key);
    checkAppendOffset(key, offset);
    const { data } = this.layout.uploadFiles(key);
    const handle = await open(data, "r+").catch((err: unknown) => {
      throw isMissing(err) ? noUploadAt(key) : fsError(err, data, "upload in progress");
    });
    try {
      const stored = (await handle.stat()).size;
      if (stored !== offset) throw offsetMismatch(key, offset, stored);
      // Batched writes at the offset, flushed along the way (fs-stream-writer.ts).
      const { written, stopped } = await appendBody(handle, offset, body, options.signal).catch(
        async (err: unknown) => {
          await handle.sync().catch(() => undefined); // keep what was written before the failure
          throw fsError(err, data, "upload in progress");
        },
      );
      // Durable before the caller learns the new offset — also what arrived before a cut.
      await handle.sync();
      if (stopped) throw stopped.error;
      return offset + written;
    } finally {
      await handle.close();
    }
  }

  async read(key: BlobKey, start: number, end: number): Promise<Readable> {
    validateResumableKey(key);
    const { data } = this.layout.uploadFiles(key);
    const handle = await open(data, "r").catch((err: unknown) => {
      throw isMissing(err) ? noUploadAt(key) : fsError(err, data, "upload in progress");
    });
    try {
      checkStoredRange(key, start, end, (await handle.stat()).size);
    } catch (err) {
      await handle.close();
      throw err;
    }
    if (start === end) {
      await handle.close();
      return Readable.from([]);
    }
    // The open handle keeps reading the bytes even if the upload completes meanwhile.
    return handle.createReadStream({ start, end: end - 1, highWaterMark: READ_BYTES });
  }

  async complete(key: BlobKey): Promise<BlobInfo> {
    validateResumableKey(key);
    const target = this.layout.objectPath(key);
    const { data, meta } = this.layout.uploadFiles(key);
    try {
      await stat(data);
    } catch (err) {
      if (!isMissing(err)) throw fsError(err, data, "upload in progress");
      await rm(meta, { force: true }); // an earlier complete was cut short after its rename
      throw noUploadAt(key);
    }
    try {
      await mkdir(dirname(target), { recursive: true });
      await rename(data, target); // the object appears whole, in one step
      await syncDir(dirname(target));
    } catch (err) {
      throw writeError(err, key, target);
    }
    await rm(meta, { force: true });
    return this.infoOf(key, await stat(target, { bigint: true }));
  }

  async abort(key: BlobKey): Promise<boolean> {
    validateResumableKey(key);
    const { data, meta } = this.layout.uploadFiles(key);
    await mkdir(this.layout.tempDir, { recursive: true });
    // Out of the uploads directory first: a crash then leaves a temp file of a dead process.
    const temp = claimTempPath(this.layout.tempDir);
    let existed = true;
    try {
      await rename(data, temp);
    } catch (err) {
      if (!isMissing(err)) throw fsError(err, data, "upload in progress");
      existed = false;
    }
    try {
      await rm(temp, { force: true });
    } finally {
      releaseTemp(temp);
    }
    await rm(meta, { force: true });
    return existed;
  }

  async *list(prefix: string): AsyncIterable<ResumableUploadInfo> {
    validateBlobPrefix(prefix);
    for (const name of await this.names()) {
      if (!name.endsWith(DATA_SUFFIX)) continue;
      const base = join(this.layout.uploadsDir, name.slice(0, -DATA_SUFFIX.length));
      const key = await this.keyIn(`${base}${META_SUFFIX}`);
      if (key === null || !key.startsWith(prefix)) continue;
      try {
        const stats = await stat(`${base}${DATA_SUFFIX}`);
        yield { key, lastModified: stats.mtime };
      } catch (err) {
        if (!isMissing(err)) throw err; // completed or aborted while we listed
      }
    }
  }

  /**
   * Deletes `.key` files whose upload is gone (a begin or a complete that a
   * crash cut short) and that are older than LEFTOVER_AGE_MS; returns how many.
   */
  async removeLeftovers(now = Date.now()): Promise<number> {
    const names = new Set(await this.names());
    let removed = 0;
    for (const name of names) {
      if (!name.endsWith(META_SUFFIX)) continue;
      const base = name.slice(0, -META_SUFFIX.length);
      if (names.has(`${base}${DATA_SUFFIX}`)) continue;
      const path = join(this.layout.uploadsDir, name);
      const stats = await stat(path).catch(() => null);
      if (stats === null || now - stats.mtimeMs < LEFTOVER_AGE_MS) continue;
      await rm(path, { force: true });
      removed++;
    }
    return removed;
  }

  private async names(): Promise<string[]> {
    try {
      return await readdir(this.layout.uploadsDir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw fsError(err, this.layout.uploadsDir, "uploads directory");
    }
  }

  /** The key a `.key` file names; null when it is gone or not ours. */
  private async keyIn(path: string): Promise<string | null> {
    try {
      const parsed = JSON.parse(await readFile(path, "utf8")) as { key?: unknown };
      return typeof parsed.key === "string" ? parsed.key : null;
    } catch {
      return null;
    }
  }
}
