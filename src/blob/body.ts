/**
 * Reading upload bodies, shared by the drivers. A body is any byte stream
 * (an HTTP request, a file, a generator); its chunks are taken one at a time
 * and the next is read only after the previous one is stored, so memory holds
 * at most what the driver buffers itself.
 */
import type { Readable } from "node:stream";
import { GamedockError } from "../core/index.js";
import type { BlobKey } from "./contract.js";

export function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`an upload body must be a byte stream, got a chunk of type ${typeof chunk}`);
}

/** Why the body stopped before its end: it failed, or the caller's signal aborted. */
export interface BodyStopped {
  error: unknown;
}

/**
 * Hands every chunk of `body` to `take` (awaited) until the body ends.
 * Resolves with null at the end, or with why the body stopped early (its
 * error, or the abort reason — an abort destroys the body, so a stalled
 * sender cannot hold the call). A failure of `take` itself is thrown: it is
 * the store's, not the body's.
 */
export async function drainBody(
  body: Readable,
  take: (bytes: Buffer) => Promise<void>,
  signal?: AbortSignal,
): Promise<BodyStopped | null> {
  const onAbort = (): void => {
    body.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
  };
  if (signal?.aborted) return { error: signal.reason };
  signal?.addEventListener("abort", onAbort, { once: true });
  const iterator = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (err) {
        return { error: signal?.aborted ? signal.reason : err };
      }
      if (next.done === true) return signal?.aborted ? { error: signal.reason } : null;
      await take(asBuffer(next.value));
      if (signal?.aborted) return { error: signal.reason };
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // Leaving early (abort, a failed take) releases the body, as for-await would.
    if (!body.readableEnded) body.destroy();
  }
}

/** A read of an upload in progress: whole byte offsets within the `stored` bytes. */
export function checkStoredRange(key: BlobKey, start: number, end: number, stored: number): void {
  const whole = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
  if (!whole(start) || !whole(end) || start > end || end > stored) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `read of ${JSON.stringify(key)}: bytes ${String(start)}–${String(end)} are not within the ${stored} bytes stored`,
      { key, start, end, stored },
    );
  }
}

/** Append offsets are whole byte counts. */
export function checkAppendOffset(key: BlobKey, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `append to ${JSON.stringify(key)}: offset ${String(offset)} is not a whole number of bytes`,
      { key, offset },
    );
  }
}

export function noUploadAt(key: BlobKey): GamedockError {
  return new GamedockError(
    "E_NOT_FOUND",
    `no resumable upload in progress at ${JSON.stringify(key)} (never begun, completed or aborted)`,
    { key },
  );
}

export function offsetMismatch(key: BlobKey, offset: number, stored: number): GamedockError {
  return new GamedockError(
    "E_UPLOAD_OFFSET",
    `append to ${JSON.stringify(key)} at offset ${offset}, but ${stored} bytes are stored: append at ${stored}`,
    { key, offset, stored },
  );
}
