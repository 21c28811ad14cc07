/**
 * putFile for s3: one PutObject up to the part size, else a resumable
 * multipart upload.
 *
 * Multipart: parts are read from the file into one buffer per worker (memory:
 * partSize × partConcurrency), each sent with its Content-MD5. The checkpoint
 * is reported once the upload exists and after every stored part, in order and
 * one report at a time. Given a checkpoint for the same key and size, the
 * parts it records are checked with ListParts (or trusted, where the store has
 * no ListParts) and only the others are sent. An abort stops sending and keeps
 * the upload on the store, so the next call can resume it.
 */
import { open } from "node:fs/promises";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { PutFileOptions, PutResult, StoredPart, UploadCheckpoint } from "../contract.js";
import { validateBlobKey } from "../keys.js";
import { validateMetadata } from "../metadata.js";
import { runPool } from "../pool.js";
import {
  abortUploadQuietly,
  completeUpload,
  createUpload,
  listStoredParts,
  uploadPart,
} from "./s3-multipart.js";
import { MAX_PARTS, MiB, bareEtag, call, contentMd5, type S3Target } from "./s3-target.js";
import { readExactly, sourceFileSize } from "../source-file.js";

/** The configured part size, raised (in whole MiB) when the file would need more than 10 000 parts. */
function partSizeFor(size: number, configured: number): number {
  return Math.max(configured, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

function partLength(number: number, partSize: number, size: number): number {
  return Math.min(partSize, size - (number - 1) * partSize);
}

function partCount(size: number, partSize: number): number {
  return Math.ceil(size / partSize);
}

async function putSmallFile(
  target: S3Target,
  key: string,
  file: string,
  size: number,
  options: PutFileOptions,
): Promise<PutResult> {
  const handle = await open(file, "r");
  let body: Buffer;
  try {
    body = await readExactly(handle, file, Buffer.allocUnsafe(size), 0, size);
  } finally {
    await handle.close();
  }
  const sent = await call(target, "upload", key, options.signal, () =>
    target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: key,
        Body: body,
        ContentLength: size,
        ContentMD5: contentMd5(body),
        ContentType: options.contentType,
        Metadata: options.metadata,
      }),
      { abortSignal: options.signal },
    ),
  );
  return { key, size, etag: bareEtag(sent.ETag), partsUploaded: 0 };
}

/** A checkpoint read back from the caller's storage: trust its shape only after checking it. */
function usableCheckpoint(checkpoint: UploadCheckpoint, key: string, size: number): boolean {
  const { partSize, parts } = checkpoint;
  if (
    checkpoint.key !== key ||
    checkpoint.size !== size ||
    typeof checkpoint.uploadId !== "string"
  ) {
    return false;
  }
  if (!Number.isSafeInteger(partSize) || partSize <= 0 || partCount(size, partSize) > MAX_PARTS) {
    return false;
  }
  return Array.isArray(parts);
}

/**
 * The checkpoint to continue from, with only the parts the store confirms;
 * null to start a new upload (after aborting the old one when it cannot be used).
 */
async function resumeFrom(
  target: S3Target,
  key: string,
  size: number,
  checkpoint: UploadCheckpoint | null | undefined,
  signal: AbortSignal | undefined,
): Promise<UploadCheckpoint | null> {
  if (!checkpoint) return null;
  // Another object's upload is not ours to abort; just do not use it.
  if (checkpoint.key !== key) return null;
  if (!usableCheckpoint(checkpoint, key, size)) {
    if (typeof checkpoint.uploadId === "string") {
      await abortUploadQuietly(target, key, checkpoint.uploadId);
    }
    return null;
  }
  const total = partCount(size, checkpoint.partSize);
  const expected = (part: StoredPart): boolean =>
    Number.isSafeInteger(part.number) &&
    part.number >= 1 &&
    part.number <= total &&
    part.size === partLength(part.number, checkpoint.partSize, size) &&
    typeof part.etag === "string";
  const stored = await listStoredParts(target, key, checkpoint.uploadId, signal);
  if (stored === "gone") return null;
  let parts = checkpoint.parts.filter(expected);
  if (stored !== "unsupported") {
    const onStore = new Map(stored.map((part) => [part.number, part]));
    parts = parts.filter((part) => {
      const found = onStore.get(part.number);
      return found !== undefined && found.etag === bareEtag(part.etag) && found.size === part.size;
    });
  }
  const unique = new Map(
    parts.map((part) => [part.number, { ...part, etag: bareEtag(part.etag) }]),
  );
  return { ...checkpoint, parts: [...unique.values()].sort((a, b) => a.number - b.number) };
}

async function putLargeFile(
  target: S3Target,
  key: string,
  file: string,
  size: number,
  options: PutFileOptions,
): Promise<PutResult> {
  const { signal, onCheckpoint } = options;
  // Reports go out one at a time and in order; each gets its own copy to keep.
  let reports = Promise.resolve();
  const report = (checkpoint: UploadCheckpoint): Promise<void> => {
    const copy = structuredClone(checkpoint);
    reports = reports.then(() => onCheckpoint?.(copy));
    return reports;
  };

  let checkpoint = await resumeFrom(target, key, size, options.checkpoint, signal);
  if (checkpoint === null) {
    const partSize = partSizeFor(size, target.partSize);
    const uploadId = await createUpload(target, key, options.contentType, signal, options.metadata);
    checkpoint = { key, uploadId, partSize, size, parts: [] };
    await report(checkpoint);
  }
  const current = checkpoint;
  const have = new Set(current.parts.map((part) => part.number));
  const todo: number[] = [];
  for (let number = 1; number <= partCount(size, current.partSize); number++) {
    if (!have.has(number)) todo.push(number);
  }

  const handle = await open(file, "r");
  const buffers: Buffer[] = [];
  try {
    await runPool(
      todo,
      target.partConcurrency,
      async (number, slot) => {
        const buffer = (buffers[slot] ??= Buffer.allocUnsafe(current.partSize));
        const length = partLength(number, current.partSize, size);
        const position = (number - 1) * current.partSize;
        const body = await readExactly(handle, file, buffer, position, length);
        const part = await uploadPart(target, key, current.uploadId, number, body, signal);
        current.parts.push(part);
        current.parts.sort((a, b) => a.number - b.number);
        await report(current);
      },
      signal,
    );
  } finally {
    await handle.close();
  }
  const etag = await completeUpload(target, key, current.uploadId, current.parts, signal);
  return { key, size, etag, partsUploaded: todo.length };
}

export async function putFileToS3(
  target: S3Target,
  key: string,
  file: string,
  options: PutFileOptions = {},
): Promise<PutResult> {
  validateBlobKey(key);
  if (options.metadata) validateMetadata(options.metadata);
  options.signal?.throwIfAborted();
  const size = await sourceFileSize(file);
  if (size <= target.partSize) {
    // A checkpoint of this key from when the file was larger: its upload can never complete.
    const stale = options.checkpoint;
    if (stale?.key === key && typeof stale.uploadId === "string") {
      await abortUploadQuietly(target, key, stale.uploadId);
    }
    return putSmallFile(target, key, file, size, options);
  }
  return putLargeFile(target, key, file, size, options);
}
