/**
 * Atomic, durable file replacement for the fs driver: the bytes go to a temp
 * file in the target's temp directory (<root>/.gamedock/tmp/<host>, on the same
 * file system), which is fsynced, renamed over the target and followed by an
 * fsync of the target's directory, so after a crash the object is either the
 * old one or the new one, never a mix — and the rename itself is on disk once
 * put returns.
 *
 * Temp files are core's `.gamedock-<pid>-<hex>.tmp`: the pid says whether the
 * writer is still alive, which is how removeAbandoned tells leftovers of a
 * crash from writes in progress — by reading that one directory.
 */
import type { BigIntStats } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { claimTempPath, errnoCode, releaseTemp } from "../../core/index.js";

/** Stable as long as the file is not replaced: a replacement is a new inode. */
export function etagOf(stats: BigIntStats): string {
  return [stats.ino, stats.size, stats.mtimeNs].map((n) => n.toString(16)).join("-");
}

export async function syncFile(path: string): Promise<BigIntStats> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
    return await handle.stat({ bigint: true });
  } finally {
    await handle.close();
  }
}

/** Makes the rename durable. Some platforms cannot fsync a directory; they journal renames anyway. */
export async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (err) {
    if (!["EISDIR", "EPERM", "EINVAL", "EBADF"].includes(errnoCode(err) ?? "")) throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Replaces `target` with what `write(temp)` writes to a fresh temp path in
 * `tempDir`. On any failure, including an abort, the temp file is removed and
 * the target is untouched. Returns the stats of the new file.
 */
export async function writeAtomically(
  target: string,
  tempDir: string,
  write: (temp: string) => Promise<void>,
  signal?: AbortSignal,
): Promise<BigIntStats> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  await mkdir(tempDir, { recursive: true }); // cheap when it exists; recreated if someone removed it
  const temp = claimTempPath(tempDir);
  try {
    await write(temp);
    signal?.throwIfAborted();
    const stats = await syncFile(temp);
    await rename(temp, target);
    await syncDir(dir);
    return stats;
  } catch (err) {
    await rm(temp, { force: true });
    // An aborted stream reports a generic AbortError; report the caller's reason instead.
    signal?.throwIfAborted();
    throw err;
  } finally {
    releaseTemp(temp);
  }
}
