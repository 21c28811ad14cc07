/**
 * The embedded BlobStore: objects are files under `root` at their key's path.
 *
 * - Atomic and durable: every write goes through writeAtomically (temp file,
 *   fsync, rename, fsync of the directory).
 * - putFile copies inside the kernel (reflink or copy_file_range), so storing
 *   an APK costs what copying it costs. There are no parts: a checkpoint is
 *   ignored and an interrupted copy simply starts again (it is local and cheap).
 * - etag: hex of inode, size and mtime (ns) — stable until the object is
 *   replaced, and different after any replacement, without reading the bytes.
 */
import type { BigIntStats } from "node:fs";
import { createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  GamedockError,
  errnoCode,
  fsError,
  isAbandonedTemp,
  isTempName,
  kernelCopy,
} from "../../core/index.js";
import type {
  BlobInfo,
  BlobKey,
  BlobStore,
  BlobTargetConfig,
  ByteRange,
  IncompleteUpload,
  PutFileOptions,
  PutResult,
} from "../contract.js";
import { etagOf, writeAtomically } from "./fs-atomic.js";
import { walkFiles } from "./fs-walk.js";
import { validateBlobKey, validateBlobPrefix } from "../keys.js";
import { clampRange } from "../range.js";
import { sourceFileSize } from "../source-file.js";

type FsConfig = Extract<BlobTargetConfig, { driver: "fs" }>;

const NOT_THERE = ["ENOENT", "ENOTDIR"];

/**
 * Reads of `get` are this large: serving a download is mostly per-chunk cost
 * (a thread-pool read, a socket write), and 1 MiB chunks move about three
 * times as many bytes per second as the 64 KiB default (see docs/files.md).
 */
const READ_CHUNK_BYTES = 1024 * 1024;

function keyConflict(key: BlobKey, why: string): GamedockError {
  return new GamedockError("E_BLOB_KEY", `object key ${JSON.stringify(key)} ${why}`, { key });
}

/** File-system errors of a write, in terms of the key the caller chose. */
function writeError(err: unknown, key: BlobKey, target: string): unknown {
  switch (errnoCode(err)) {
    case "ENOTDIR":
    case "EEXIST":
      return keyConflict(
        key,
        "cannot be stored: a leading part of it is already an object, and the fs driver keeps objects as files (one key cannot be another key's directory)",
      );
    case "EISDIR":
    case "ENOTEMPTY":
      return keyConflict(
        key,
        "cannot be stored: other objects are stored under it as a directory (fs driver)",
      );
    case "ENAMETOOLONG":
      return keyConflict(
        key,
        "has a segment longer than the file system allows (usually 255 bytes)",
      );
    default:
      return fsError(err, target, "blob target file");
  }
}

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

  constructor(private readonly root: string) {}

  /** The file of a key; also refuses names the driver keeps for its temp files. */
  localPath(key: BlobKey): string {
    return this.pathOf(key);
  }

  private pathOf(key: BlobKey): string {
    validateBlobKey(key);
    const segments = key.split("/");
    if (isTempName(segments.at(-1) ?? "")) {
      throw keyConflict(
        key,
        "uses a name the fs driver reserves for its temp files (.gamedock-<pid>-<hex>.tmp)",
      );
    }
    return join(this.root, ...segments);
  }

  async putFile(key: BlobKey, file: string, options: PutFileOptions = {}): Promise<PutResult> {
    const target = this.pathOf(key);
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
        // The target directory exists (writeAtomically made it): a missing path is the source.
        throw errnoCode(err) === "ENOENT" ? fsError(err, file, "source file") : err;
      }
    };
    const stats = await writeAtomically(target, copy, options.signal).catch((err: unknown) => {
      throw writeError(err, key, target);
    });
    return { key, size: Number(stats.size), etag: etagOf(stats), partsUploaded: 0 };
  }

  async putStream(
    key: BlobKey,
    body: Readable,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<PutResult> {
    const target = this.pathOf(key);
    const { signal } = options;
    signal?.throwIfAborted();
    const write = (temp: string): Promise<void> =>
      pipeline(
        body,
        createWriteStream(temp, { flags: "wx", mode: 0o644 }),
        signal ? { signal } : {},
      );
    const stats = await writeAtomically(target, write, signal).catch((err: unknown) => {
      throw writeError(err, key, target);
    });
    return { key, size: Number(stats.size), etag: etagOf(stats), partsUploaded: 0 };
  }

  async get(key: BlobKey, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
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

  async head(key: BlobKey): Promise<BlobInfo | null> {
    const path = this.pathOf(key);
    try {
      const stats = await stat(path, { bigint: true });
      return stats.isFile() ? infoOf(key, stats) : null;
    } catch (err) {
      if (NOT_THERE.includes(errnoCode(err) ?? "")) return null;
      throw fsError(err, path, "object");
    }
  }

  async delete(key: BlobKey): Promise<void> {
    const path = this.pathOf(key);
    const stats = await this.head(key);
    if (stats === null) return; // absent, or a directory of other keys: nothing to delete
    await rm(path, { force: true }).catch((err: unknown) => {
      throw fsError(err, path, "object");
    });
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    validateBlobPrefix(prefix);
    for await (const file of walkFiles(this.root, prefix)) {
      if (isTempName(file.name)) continue;
      try {
        yield infoOf(file.key, await stat(file.path, { bigint: true }));
      } catch (err) {
        if (!NOT_THERE.includes(errnoCode(err) ?? "")) throw err; // deleted while we walked
      }
    }
  }

  /**
   * Temp files left by a writer that died (or by this process, outside any
   * write in progress). The destination name is not recorded in a temp file,
   * so `key` is the temp file's own path and `uploadId` its name.
   */
  async incompleteUploads(prefix = ""): Promise<IncompleteUpload[]> {
    validateBlobPrefix(prefix);
    const found: IncompleteUpload[] = [];
    for await (const file of walkFiles(this.root, prefix)) {
      if (isTempName(file.name) && isAbandonedTemp(file.path)) {
        found.push({ key: file.key, uploadId: file.name });
      }
    }
    return found;
  }

  async abortUpload(upload: IncompleteUpload): Promise<void> {
    validateBlobKey(upload.key);
    const name = basename(upload.key);
    if (!isTempName(name) || name !== upload.uploadId) {
      throw new GamedockError(
        "E_INVALID_REQUEST",
        `not an incomplete upload of the fs driver: ${JSON.stringify(upload)} (expected key "<dir>/<uploadId>" with uploadId .gamedock-<pid>-<hex>.tmp, as incompleteUploads reports)`,
        { key: upload.key, uploadId: upload.uploadId },
      );
    }
    await rm(join(this.root, ...upload.key.split("/")), { force: true });
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
      `object not found: ${JSON.stringify(key)} in ${this.root}`,
      {
        key,
        root: this.root,
      },
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
  const root = resolve(config.root);
  await mkdir(root, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, root, "blob target directory");
  });
  return new FsBlobStore(root);
}
