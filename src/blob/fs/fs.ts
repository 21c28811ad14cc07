/**
 * The embedded BlobStore: objects are files under `root` at their key's path;
 * the driver's own files live in `<root>/.gamedock/` (fs-layout.ts).
 *
 * - Atomic and durable: every write goes through writeAtomically (temp file
 *   in <root>/.gamedock/tmp/<host>, fsync, rename, fsync of the directory).
 * - putFile copies inside the kernel (reflink or copy_file_range), so storing
 *   an APK costs what copying it costs. There are no parts: a checkpoint is
 *   ignored and an interrupted copy simply starts again (it is local and cheap).
 * - etag: hex of inode, size and mtime (ns) — stable until the object is
 *   replaced, and different after any replacement, without reading the bytes.
 * - No multipart uploads: incompleteUploads is always empty; what a killed
 *   writer leaves is a temp file of a dead process, for removeAbandoned.
 */
import type { BigIntStats } from "node:fs";
import { createReadStream, createWriteStream } from "node:fs";
import { appendFile, mkdir, open, rename, rm, stat, truncate } from "node:fs/promises";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  GamedockError,
  errnoCode,
  fsError,
  isTempName,
  kernelCopy,
  makeDirectory,
  directoryError,
} from "../../core/index.js";
import type {
  BlobHead,
  BlobInfo,
  BlobKey,
  BlobStore,
  BlobTargetConfig,
  ByteRange,
  ComposeProbe,
  ComposeSource,
  IncompleteUpload,
  PutFileOptions,
  PutResult,
} from "../contract.js";
import { validateBlobKey, validateBlobPrefix } from "../keys.js";
import { checkComposeRange } from "../compose.js";
import { validateMetadata } from "../metadata.js";
import { clampRange } from "../range.js";
import { sourceFileSize } from "../source-file.js";
import { etagOf, writeAtomically } from "./fs-atomic.js";
import { writeStreamToFile } from "./fs-stream-writer.js";
import { NOT_THERE, writeError } from "./fs-errors.js";
import { FsLayout } from "./fs-layout.js";
import { readMetadata, removeMetadata, writeMetadata } from "./fs-metadata.js";
import { FsResumableUploads } from "./fs-resumable.js";
import { removeAbandonedTempFiles } from "./fs-temps.js";
import { walkFiles } from "./fs-walk.js";

type FsConfig = Extract<BlobTargetConfig, { driver: "fs" }>;

/**
 * Reads of `get` are this large: serving a download is mostly per-chunk cost
 * (a thread-pool read, a socket write), and 1 MiB chunks move about three
 * times as many bytes per second as the 64 KiB default (see docs/files.md).
 */
const READ_CHUNK_BYTES = 1024 * 1024;

function infoOf(key: BlobKey, stats: BigIntStats): BlobInfo {
  return {
    key,
    size: Number(stats.size),
    etag: etagOf(stats),
    lastModified: new Date(Number(stats.mtimeMs)),
  };
}

class FsBlobStore implements BlobStore {
  readonly driver = "fs" as const;
  readonly resumable: FsResumableUploads;

  constructor(private readonly layout: FsLayout) {
    this.resumable = new FsResumableUploads(layout, infoOf);
  }

  /** The file of a key; also refuses names the driver keeps for its temp files. */
  localPath(key: BlobKey): string {
    return this.layout.objectPath(key);
  }

  async putFile(key: BlobKey, file: string, options: PutFileOptions = {}): Promise<PutResult> {
    const target = this.layout.objectPath(key);
    if (options.metadata) validateMetadata(options.metadata);
    options.signal?.throwIfAborted();
    await sourceFileSize(file); // names a missing or unreadable source before anything is written
    const copy = async (temp: string): Promise<void> => {
      try {
        if (options.disposable === true) {
          // A rename costs nothing; across filesystems (EXDEV) it falls back to a copy.
          const moved = await rename(file, temp).then(
            () => true,
            (err: unknown) => {
              if (errnoCode(err) === "EXDEV") return false;
              throw err;
            },
          );
          if (moved) return;
        }
        await kernelCopy(file, temp);
      } catch (err) {
        // The temp directory exists (writeAtomically made it): a missing path is the source.
        throw errnoCode(err) === "ENOENT" ? fsError(err, file, "source file") : err;
      }
    };
    const stats = await writeAtomically(target, this.layout.tempDir, copy, options.signal).catch(
      (err: unknown) => {
        throw writeError(err, key, target);
      },
    );
    const etag = etagOf(stats);
    // Without metadata, an earlier object's no longer matches the etag: nothing to remove.
    if (options.metadata && Object.keys(options.metadata).length > 0) {
      await writeMetadata(this.layout, key, etag, options.metadata);
    }
    return { key, size: Number(stats.size), etag, partsUploaded: 0 };
  }

  readonly composeMinBytes = 1;

  /**
   * A kernel copy of the source (reflink where the file system shares
   * extents), cut to the range, then the tail: for a range from byte 0 — a
   * channel child of its mother — no byte passes through this process. A
   * range further in is streamed.
   */
  async compose(
    key: BlobKey,
    source: ComposeSource,
    tail: Buffer,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<PutResult> {
    const target = this.layout.objectPath(key);
    const from = this.layout.objectPath(source.key);
    const { signal } = options;
    signal?.throwIfAborted();
    checkComposeRange(source);
    const sourceStats = await stat(from).catch((err: unknown) => {
      throw NOT_THERE.includes(errnoCode(err) ?? "")
        ? new GamedockError(
            "E_NOT_FOUND",
            `compose source ${JSON.stringify(source.key)} does not exist`,
          )
        : fsError(err, from, "object");
    });
    if (source.start + source.length > sourceStats.size) {
      throw new GamedockError(
        "E_RANGE",
        `compose source range ${source.start}+${source.length} is past the end of ${JSON.stringify(source.key)} (${sourceStats.size} bytes)`,
      );
    }
    const write = async (temp: string): Promise<void> => {
      if (source.start === 0) {
        await kernelCopy(from, temp);
        await truncate(temp, source.length);
      } else {
        await pipeline(
          createReadStream(from, { start: source.start, end: source.start + source.length - 1 }),
          createWriteStream(temp, { flags: "wx", mode: 0o644 }),
          signal ? { signal } : {},
        );
      }
      if (tail.length > 0) await appendFile(temp, tail);
    };
    const stats = await writeAtomically(target, this.layout.tempDir, write, signal).catch(
      (err: unknown) => {
        throw writeError(err, key, target);
      },
    );
    return { key, size: Number(stats.size), etag: etagOf(stats), partsUploaded: 0 };
  }

  probeCompose(): Promise<ComposeProbe> {
    return Promise.resolve({ supported: true });
  }

  async putStream(
    key: BlobKey,
    body: Readable,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<PutResult> {
    const target = this.layout.objectPath(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const write = (temp: string): Promise<void> => writeStreamToFile(body, temp, signal);
    const stats = await writeAtomically(target, this.layout.tempDir, write, signal).catch(
      (err: unknown) => {
        throw writeError(err, key, target);
      },
    );
    return { key, size: Number(stats.size), etag: etagOf(stats), partsUploaded: 0 };
  }

  async get(key: BlobKey, range?: ByteRange): Promise<Readable> {
    const path = this.layout.objectPath(key);
    const handle = await open(path, "r").catch((err: unknown) => {
      throw NOT_THERE.includes(errnoCode(err) ?? "")
        ? this.notFound(key)
        : fsError(err, path, "object");
    });
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw this.notFound(key);
      // The stream owns the handle from here: it closes it at the end or on destroy.
      if (!range) return handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
      const { start, end } = clampRange(key, range, stats.size);
      return handle.createReadStream({ start, end, highWaterMark: READ_CHUNK_BYTES });
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async head(key: BlobKey): Promise<BlobHead | null> {
    const path = this.layout.objectPath(key);
    let info: BlobInfo;
    try {
      const stats = await stat(path, { bigint: true });
      if (!stats.isFile()) return null;
      info = infoOf(key, stats);
    } catch (err) {
      if (NOT_THERE.includes(errnoCode(err) ?? "")) return null;
      throw fsError(err, path, "object");
    }
    return { ...info, metadata: await readMetadata(this.layout, key, info.etag) };
  }

  async delete(key: BlobKey): Promise<void> {
    const path = this.layout.objectPath(key);
    const stats = await this.head(key);
    if (stats === null) return; // absent, or a directory of other keys: nothing to delete
    await rm(path, { force: true }).catch((err: unknown) => {
      throw fsError(err, path, "object");
    });
    await removeMetadata(this.layout, key);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    validateBlobPrefix(prefix);
    for await (const file of walkFiles(this.layout.root, prefix)) {
      if (isTempName(file.name)) continue; // left next to objects by versions before .gamedock/tmp
      try {
        yield infoOf(file.key, await stat(file.path, { bigint: true }));
      } catch (err) {
        if (!NOT_THERE.includes(errnoCode(err) ?? "")) throw err; // deleted while we walked
      }
    }
  }

  /** The fs driver has no multipart uploads (see removeAbandoned for what a crash leaves). */
  incompleteUploads(prefix = ""): Promise<IncompleteUpload[]> {
    validateBlobPrefix(prefix);
    return Promise.resolve([]);
  }

  abortUpload(upload: Pick<IncompleteUpload, "key" | "uploadId">): Promise<void> {
    validateBlobKey(upload.key);
    return Promise.resolve(); // incompleteUploads never reports one: nothing to abort
  }

  /**
   * Temp files whose writer is gone (fs-temps.ts) and the bookkeeping of
   * resumable uploads that a crash cut short. Reads the driver's own
   * directories, never the object tree.
   */
  async removeAbandoned(): Promise<number> {
    const temps = await removeAbandonedTempFiles(this.layout);
    return temps + (await this.resumable.removeLeftovers());
  }

  publicUrl(key: BlobKey): string | null {
    validateBlobKey(key);
    return null;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private notFound(key: BlobKey): GamedockError {
    return new GamedockError(
      "E_NOT_FOUND",
      // The key only: this message can reach an HTTP client (details.root does not).
      `object not found: ${JSON.stringify(key)}`,
      { key, root: this.layout.root },
    );
  }
}

export async function openFsBlobStore(config: FsConfig): Promise<BlobStore> {
  if (typeof config.root !== "string" || config.root === "") {
    throw new GamedockError(
      "E_CONFIG",
      "fs blob target needs `root`: the directory objects are stored in",
    );
  }
  const layout = new FsLayout(resolve(config.root));
  // The root level by level (a root under /proc fails at once); inside it, the usual way.
  await makeDirectory(layout.root, directoryError("fs target root"));
  for (const dir of [layout.tempDir, layout.uploadsDir]) {
    await mkdir(dir, { recursive: true }).catch((err: unknown) => {
      throw fsError(err, dir, "blob target directory");
    });
  }
  return new FsBlobStore(layout);
}
