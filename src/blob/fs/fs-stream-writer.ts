/**
 * Writes a body into a file from a given position in large batches, flushing
 * it to disk as it goes.
 *
 * - Chunks that arrive while a write is under way go to the file together,
 *   in one writev: a socket delivers 16–64 KiB at a time, and each write is
 *   a round trip through libuv's thread pool.
 * - Every SYNC_EVERY bytes an fdatasync starts in the background (one at a
 *   time) while the writes carry on. The kernel would otherwise keep a whole
 *   upload in the page cache until the final fsync and write it back only
 *   then; flushing along the way overlaps the disk with the network and the
 *   hashing, and leaves the final fsync little to do. (docs/benchmarks.md,
 *   "Uploads": the final fsync of a 1 GiB PUT was about half of its time.)
 * - A body that fails midway still has every chunk it delivered written
 *   (a resumable upload keeps the bytes that arrived).
 */
import { open, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { drainBody } from "../body.js";

/**
 * How much is written between two background flushes: small enough that a
 * tus PATCH of 64 MiB flushes along the way and ends with at most this much
 * to sync (at 64 MiB its whole body waited for the final fsync).
 */
export const SYNC_EVERY = 8 * 1024 * 1024;
/** Bytes queued behind the write under way before the body is read again. */
const HIGH_WATER_MARK = 4 * 1024 * 1024;

/** Writes every byte of `buffers` at `position`: a short writev (disk filling up) is continued. */
async function writevAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<number> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest, at);
    if (bytesWritten === 0) throw new Error("the file took no bytes (writev wrote 0)");
    at += bytesWritten;
    let skip = bytesWritten;
    while (rest.length > 0 && skip >= rest[0]!.length) skip -= rest.shift()!.length;
    if (skip > 0) rest = [rest[0]!.subarray(skip), ...rest.slice(1)];
  }
  return at - position;
}

export class FileAppender {
  #queued: Buffer[] = [];
  #queuedBytes = 0;
  #written = 0;
  #writing: Promise<void> | null = null;
  #flushedTo = 0;
  #flushing: Promise<void> | null = null;
  /** The first write or background flush the file refused: nothing after it is trusted. */
  #error: Error | null = null;

  constructor(
    private readonly handle: FileHandle,
    private readonly position = 0,
  ) {}

  /** Bytes written to the file so far. */
  get written(): number {
    return this.#written;
  }

  /** Queues `chunk`; resolves when the caller may send the next one. */
  async take(chunk: Buffer): Promise<void> {
    if (this.#error) throw this.#error;
    this.#queued.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#writing === null) this.writeQueued();
    else if (this.#queuedBytes >= HIGH_WATER_MARK) await this.#writing;
    this.throwIfFailed();
  }

  /** Writes what is queued and waits for the background flush; throws what the file refused. */
  async finish(): Promise<void> {
    while (this.#writing) await this.#writing;
    await this.#flushing;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.#error) throw this.#error;
  }

  private writeQueued(): void {
    const batch = this.#queued;
    this.#queued = [];
    this.#queuedBytes = 0;
    this.#writing = writevAll(this.handle, batch, this.position + this.#written).then(
      (bytesWritten) => {
        this.#written += bytesWritten;
        this.#writing = null;
        this.flushSoon();
        if (this.#queued.length > 0 && !this.#error) this.writeQueued();
      },
      (err: unknown) => {
        this.#error ??= err as Error;
        this.#writing = null;
      },
    );
  }

  private flushSoon(): void {
    if (this.#flushing || this.#written - this.#flushedTo < SYNC_EVERY) return;
    this.#flushedTo = this.#written;
    this.#flushing = this.handle
      .datasync()
      .catch((err: unknown) => {
        this.#error ??= err as Error;
      })
      .finally(() => {
        this.#flushing = null;
      });
  }
}

/**
 * Writes `body` through an appender at `position` of the open file. Resolves
 * with null once every byte is written, or with why the body stopped early
 * (its error, or the signal's reason) once every byte it delivered is
 * written; throws what the file refused. The caller fsyncs.
 */
export async function appendBody(
  handle: FileHandle,
  position: number,
  body: Readable,
  signal?: AbortSignal,
): Promise<{ written: number; stopped: { error: unknown } | null }> {
  const appender = new FileAppender(handle, position);
  let stopped: { error: unknown } | null;
  try {
    stopped = await drainBody(body, (chunk) => appender.take(chunk), signal);
  } catch (err) {
    await appender.finish().catch(() => undefined); // nothing in flight when the caller closes
    throw err;
  }
  await appender.finish();
  return { written: appender.written, stopped };
}

/** Writes `body` to `path` (which must not exist), flushing along the way; the caller fsyncs at the end. */
export async function writeStreamToFile(
  body: Readable,
  path: string,
  signal?: AbortSignal,
): Promise<void> {
  const handle = await open(path, "wx", 0o644);
  try {
    const { stopped } = await appendBody(handle, 0, body, signal);
    if (stopped) throw stopped.error;
  } finally {
    await handle.close();
  }
}
