/**
 * Helpers of the blob tests: generated files and streams compared by sha256,
 * listing, and asserting GamedockError codes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobInfo, BlobStore } from "../../src/blob/index.js";
import { GamedockError } from "../../src/core/index.js";

export interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

/** Random bytes to disk, 1 MiB at a time, so no test holds a whole file either. */
export async function makeTestFile(dir: string, name: string, size: number): Promise<TestFile> {
  const path = join(dir, name);
  const hash = createHash("sha256");
  function* chunks(): Generator<Buffer> {
    for (let left = size; left > 0; left -= 1 << 20) {
      const chunk = randomBytes(Math.min(left, 1 << 20));
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(path));
  return { path, size, sha256: hash.digest("hex") };
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest("hex"), size };
}

export const sha256OfFile = (path: string): Promise<{ sha256: string; size: number }> =>
  sha256Of(createReadStream(path));

export async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Asserts that `promise` rejects with a GamedockError of `code`; returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<GamedockError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(
    caught instanceof GamedockError,
    `expected a GamedockError ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export async function listAll(store: BlobStore, prefix: string): Promise<BlobInfo[]> {
  const found: BlobInfo[] = [];
  for await (const info of store.list(prefix)) found.push(info);
  return found.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** A stream of `size` pseudo-random bytes in uneven chunks, and the sha256 it will have. */
export function generatedStream(size: number): { stream: Readable; sha256: string } {
  const seed = randomBytes(64 * 1024 + 7);
  const hash = createHash("sha256");
  const pieces: Buffer[] = [];
  for (let left = size, i = 0; left > 0; i++) {
    const piece = seed.subarray(0, Math.min(left, 1000 + ((i * 7919) % seed.length)));
    hash.update(piece);
    pieces.push(piece);
    left -= piece.length;
  }
  return { stream: Readable.from(pieces), sha256: hash.digest("hex") };
}
