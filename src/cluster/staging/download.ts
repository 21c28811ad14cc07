/**
 * Fetching one input into the cache: bytes are appended to its partial file
 * while they are hashed, so memory stays flat whatever the size. A download
 * that starts over a partial file (cut short before, here or in a process that
 * was killed) hashes the bytes on disk first and asks the source for the rest
 * only (a Range request). A dropped connection or an unavailable source is
 * retried from the new end of the file, with backoff; `retries` bounds the
 * attempts in a row that bring no new byte.
 *
 * Verification is of the whole file: size and sha256. A mismatch deletes the
 * partial file. When the download had resumed over bytes from an earlier
 * attempt, those bytes may be what is wrong (a disk that lost a write), so it
 * is fetched once more from byte 0 before the input is called corrupt.
 * A verified file becomes read-only (0444) with the fixed mtime that marks it
 * unchanged, and is renamed into objects/ — it appears whole or not at all.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, open, rename, rm, utimes, type FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fsError, isGamedockError, type Logger } from "../../core/index.js";
import type { InputRef, InputSource } from "./contract.js";
import { digestMismatch, isSourceUnavailable, sourceEndedEarly } from "./errors.js";
import { VERIFIED_MODE, VERIFIED_MTIME_MS, fileLength, type CacheLayout } from "./layout.js";

export interface DownloadJob {
  ref: InputRef;
  layout: CacheLayout;
  source: InputSource;
  signal: AbortSignal;
  /** Attempts in a row without progress before a retryable failure is given up. */
  retries: number;
  retryDelayMs: number;
  /** Called with each chunk's length as it is written (stats().fetchedBytes). */
  onFetched: (bytes: number) => void;
  now: () => number;
  logger: Logger | undefined;
}

const MAX_RETRY_DELAY_MS = 10_000;

/** Downloads, verifies and places `job.ref` at its object path; rejects leaving the partial file (or none). */
export async function downloadInput(job: DownloadJob): Promise<void> {
  const { ref, layout } = job;
  const partial = layout.partialPath(ref.sha256);
  try {
    for (let pass = 1; ; pass++) {
      const { sha256, resumedFrom } = await fetchToPartial(job, partial);
      if (sha256 === ref.sha256) break;
      if (resumedFrom > 0 && pass === 1) {
        await rm(partial, { force: true });
        job.logger?.warn(
          { sha256: ref.sha256, resumedFrom },
          "a resumed download does not match its sha256; fetching it again from byte 0",
        );
        continue;
      }
      throw digestMismatch(ref, { size: ref.size, sha256 }, "the input source");
    }
  } catch (err) {
    // Bytes that do not belong to the input are never kept, not even as a resume point.
    if (isGamedockError(err) && err.code === "E_INPUT_DIGEST_MISMATCH") {
      await rm(partial, { force: true });
    }
    throw fsError(err, partial, "staging cache file"); // ENOSPC → E_DISK_FULL, …
  }
  try {
    await markVerified(partial, job.now());
    await mkdir(layout.objectDir(ref.sha256), { recursive: true });
    await rename(partial, layout.objectPath(ref.sha256));
  } catch (err) {
    throw fsError(err, layout.objectPath(ref.sha256), "staging cache file");
  }
}

/** A verified file: read-only, with the mtime that says "unchanged" and the atime of its last use. */
export async function markVerified(path: string, now: number): Promise<void> {
  await chmod(path, VERIFIED_MODE);
  await utimes(path, new Date(now), new Date(VERIFIED_MTIME_MS));
}

/** Brings the partial file to `ref.size` bytes; returns its sha256 and where this download began. */
async function fetchToPartial(
  job: DownloadJob,
  partial: string,
): Promise<{ sha256: string; resumedFrom: number }> {
  const { ref, signal } = job;
  let start = await fileLength(partial);
  if (start > ref.size) {
    await rm(partial, { force: true }); // longer than the input: not a prefix of it
    start = 0;
  }
  const hash = createHash("sha256");
  if (start > 0) await hashPrefix(partial, start, hash, signal);
  // The end of the partial file: every byte before it is written and hashed.
  const progress = { offset: start };
  const handle = await open(partial, "a");
  try {
    let fruitless = 0;
    while (progress.offset < ref.size) {
      const before = progress.offset;
      try {
        await appendFromSource(job, handle, hash, progress);
      } catch (err) {
        if (!isSourceUnavailable(err) || signal.aborted) throw err;
        fruitless = progress.offset > before ? 1 : fruitless + 1;
        if (fruitless > job.retries) throw err;
        const delay = Math.min(job.retryDelayMs * 2 ** (fruitless - 1), MAX_RETRY_DELAY_MS);
        job.logger?.warn(
          { sha256: ref.sha256, offset: progress.offset, size: ref.size, err, retryInMs: delay },
          "input download interrupted; resuming",
        );
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        signal.throwIfAborted();
      }
    }
    await handle.sync(); // the rename must never publish bytes a crash could lose
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest("hex"), resumedFrom: start };
}

/** One request to the source from `progress.offset`, appending until the body ends or fails. */
async function appendFromSource(
  job: DownloadJob,
  handle: FileHandle,
  hash: Hash,
  progress: { offset: number },
): Promise<void> {
  const { ref } = job;
  const body = await job.source.open(ref, progress.offset, job.signal);
  for await (const chunk of body) {
    const end = progress.offset + chunk.length;
    if (end > ref.size) {
      throw digestMismatch(ref, { size: end, more: true }, "the input source");
    }
    await writeAll(handle, chunk);
    hash.update(chunk);
    progress.offset = end;
    job.onFetched(chunk.length);
  }
  if (progress.offset < ref.size) throw sourceEndedEarly(ref, progress.offset);
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
    written += bytesWritten;
  }
}

async function hashPrefix(path: string, length: number, hash: Hash, signal: AbortSignal) {
  const stream = createReadStream(path, { start: 0, end: length - 1, signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

/** The sha256 of a whole file, streamed. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
