/**
 * Where the fs driver keeps things under its root:
 *
 *   <root>/<key>                              objects, at their key's path
 *   <root>/.gamedock/tmp/<host>/.gamedock-<pid>-<hex>.tmp
 *                                             temp files of writes in progress
 *   <root>/.gamedock/uploads/<sha256 of key>.data / .key
 *                                             resumable uploads in progress
 *   <root>/.gamedock/meta/<sha256 of key>.json  metadata recorded by putFile,
 *                                             with the etag of the object it
 *                                             describes (fs-metadata.ts)
 *
 * Everything of the driver's own is in the reserved area `.gamedock/`, which
 * no key may name: one directory per host to read for leftovers, and renames
 * from it into place stay on one file system (atomic). Temp files are kept
 * per host because a pid says whether a writer is alive only on its own
 * host, and a root may be shared by instances on several machines.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { GamedockError, HOST, isTempName } from "../../core/index.js";
import type { BlobKey } from "../contract.js";
import { validateBlobKey } from "../keys.js";
import { STORE_AREA } from "../reserved.js";

export interface UploadFiles {
  /** The bytes so far; the upload exists while this file does. */
  data: string;
  /** The upload's key, so that a listing can name it. */
  meta: string;
}

/** NAME_MAX of Linux file systems (ext4, xfs, btrfs, tmpfs): bytes per path segment. */
const MAX_SEGMENT_BYTES = 255;

export const DATA_SUFFIX = ".data";
export const META_SUFFIX = ".key";

/** This host's name as one path segment. */
export const HOST_DIR = HOST.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "") || "localhost";

export function keyConflict(key: BlobKey, why: string): GamedockError {
  return new GamedockError("E_BLOB_KEY", `object key ${JSON.stringify(key)} ${why}`, { key });
}

export class FsLayout {
  readonly storeDir: string;
  /** Temp directories, one per host. */
  readonly tempRoot: string;
  /** This host's temp directory. */
  readonly tempDir: string;
  readonly uploadsDir: string;
  readonly metadataDir: string;

  constructor(readonly root: string) {
    this.storeDir = join(root, STORE_AREA);
    this.tempRoot = join(this.storeDir, "tmp");
    this.tempDir = join(this.tempRoot, HOST_DIR);
    this.uploadsDir = join(this.storeDir, "uploads");
    this.metadataDir = join(this.storeDir, "meta");
  }

  /** The file of a key; also refuses names the driver keeps for its temp files. */
  objectPath(key: BlobKey): string {
    validateBlobKey(key);
    const segments = key.split("/");
    // Temp files of older versions sat next to their objects; such names stay reserved.
    if (isTempName(segments.at(-1) ?? "")) {
      throw keyConflict(
        key,
        "uses a name the fs driver reserves for its temp files (.gamedock-<pid>-<hex>.tmp)",
      );
    }
    if (segments.some((segment) => Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES)) {
      throw keyConflict(
        key,
        `has a segment longer than the file system allows (${MAX_SEGMENT_BYTES} bytes)`,
      );
    }
    return join(this.root, ...segments);
  }

  /** The metadata file of a key (the key is already validated). */
  metadataPath(key: BlobKey): string {
    return join(this.metadataDir, `${createHash("sha256").update(key, "utf8").digest("hex")}.json`);
  }

  /** The files of the resumable upload at `key` (the key is already validated). */
  uploadFiles(key: BlobKey): UploadFiles {
    const name = createHash("sha256").update(key, "utf8").digest("hex");
    return {
      data: join(this.uploadsDir, `${name}${DATA_SUFFIX}`),
      meta: join(this.uploadsDir, `${name}${META_SUFFIX}`),
    };
  }
}
