/** Byte ranges for `get`, checked the same way by every driver. */
import { Readable } from "node:stream";
import { GamedockError } from "../core/index.js";
import type { BlobKey, ByteRange } from "./contract.js";

function rangeError(key: BlobKey, range: ByteRange, why: string): GamedockError {
  return new GamedockError(
    "E_INVALID_REQUEST",
    `byte range ${range.start}-${range.end} of ${JSON.stringify(key)} ${why}`,
    { key, start: range.start, end: range.end },
  );
}

/** Shape only: whole numbers, 0 ≤ start ≤ end. */
export function checkRangeShape(key: BlobKey, range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw rangeError(key, range, "is invalid: start and end are byte offsets with 0 ≤ start ≤ end");
  }
}

/**
 * Against the object's size, as HTTP does: a start past the last byte is an
 * error, an end past it is cut to the last byte.
 */
export function clampRange(key: BlobKey, range: ByteRange, size: number): ByteRange {
  checkRangeShape(key, range);
  if (range.start >= size) throw rangeNotSatisfiable(key, range, size);
  return { start: range.start, end: Math.min(range.end, size - 1) };
}

export function rangeNotSatisfiable(key: BlobKey, range: ByteRange, size?: number): GamedockError {
  const known = size === undefined ? "" : ` (size ${size})`;
  return rangeError(key, range, `starts past the end of the object${known}`);
}

/** Drops `skip` bytes of `source`, passes the next `length` bytes, then ends (and frees the source). */
export function sliceStream(source: Readable, skip: number, length: number): Readable {
  async function* take(): AsyncGenerator<Buffer> {
    let toSkip = skip;
    let left = length;
    if (left === 0) return;
    // Leaving this loop early destroys `source`, which closes its socket or file.
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      let bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      if (toSkip >= bytes.length) {
        toSkip -= bytes.length;
        continue;
      }
      bytes = bytes.subarray(toSkip);
      toSkip = 0;
      if (bytes.length >= left) {
        yield bytes.subarray(0, left);
        return;
      }
      left -= bytes.length;
      yield bytes;
    }
  }
  return Readable.from(take(), { objectMode: false });
}
