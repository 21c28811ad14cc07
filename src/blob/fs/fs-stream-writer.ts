/**
 * Writes a stream to a new file, flushing it to disk as it goes: every
 * SYNC_EVERY bytes an fdatasync starts in the background (one at a time)
 * while the writes carry on. The kernel would otherwise keep a whole upload
 * in the page cache until the final fsync and write it back only then, after
 * the last byte arrived; flushing along the way overlaps the disk with the
 * network and the hashing, and leaves the final fsync little to do.
 * (docs/benchmarks.md, "Uploads": the final fsync of a 1 GiB PUT was
 * about half of its time.)
 */
import { open, type FileHandle } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";

/** How much is written between two background flushes. */
export const SYNC_EVERY = 64 * 1024 * 1024;
/** What the writer takes before it pushes back on the source. */
const HIGH_WATER_MARK = 4 * 1024 * 1024;

class SyncingFileWriter extends Writable {
  #written = 0;
  #flushedTo = 0;
  #flushing: Promise<void> | null = null;
  /** A background flush that failed: the data may not be on disk, so the write fails. */
  #flushError: Error | null = null;

  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: HIGH_WATER_MARK });
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    this.handle.writev(buffers).then(
      ({ bytesWritten }) => {
        this.#written += bytesWritten;
        this.flushSoon();
        callback(this.#flushError);
      },
      (err: unknown) => {
        callback(err as Error);
      },
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    void (this.#flushing ?? Promise.resolve()).then(() => {
      callback(this.#flushError);
    });
  }

  private flushSoon(): void {
    if (this.#flushing || this.#written - this.#flushedTo < SYNC_EVERY) return;
    this.#flushedTo = this.#written;
    this.#flushing = this.handle
      .datasync()
      .catch((err: unknown) => {
        this.#flushError = err as Error;
      })
      .finally(() => {
        this.#flushing = null;
      });
  }
}

/** Writes `body` to `path` (which must not exist), flushing along the way; the caller fsyncs at the end. */
export async function writeStreamToFile(
  body: Readable,
  path: string,
  signal?: AbortSignal,
): Promise<void> {
  const handle = await open(path, "wx", 0o644);
  try {
    await pipeline(body, new SyncingFileWriter(handle), signal ? { signal } : {});
  } finally {
    await handle.close();
  }
}
