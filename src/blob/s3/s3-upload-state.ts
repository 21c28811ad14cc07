/**
 * The books of an s3 resumable upload, in the reserved area of the bucket:
 *
 * - `.gamedock/uploads/<key>`: the state, a small JSON object — the
 *   multipart upload's id (created with the first part), the parts stored,
 *   and how many bytes follow them in the tail. Any instance finds an upload
 *   by its key here, after a restart too. Rewriting it is the commit point
 *   of every change: whatever else was written before it is not yet part of
 *   the upload.
 * - `.gamedock/parts/<key>@<start>`: the tail, the bytes after the last part
 *   (fewer than S3's 5 MiB minimum part), `start` being its offset in the
 *   upload. It is merged into the next part, or sent as the last part on
 *   completion. A tail that only grows keeps its name (the bytes the state
 *   counts are a prefix of the new ones); a new start gets a new name, so a
 *   crash never leaves the state naming bytes it did not count.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GamedockError } from "../../core/index.js";
import type { BlobKey, StoredPart } from "../contract.js";
import { STORE_AREA } from "../reserved.js";
import { s3ErrorName, s3Status } from "./s3-errors.js";
import { listObjects } from "./s3-list.js";
import { call, contentMd5, type S3Target } from "./s3-target.js";

const STATES = `${STORE_AREA}uploads/`;
const TAILS = `${STORE_AREA}parts/`;

export interface UploadState {
  v: 1;
  key: BlobKey;
  contentType: string | null;
  /** Parts are cut at this size (the target's partSize when the upload began). */
  partSize: number;
  /** The multipart upload, once the first part was sent. */
  uploadId: string | null;
  parts: StoredPart[];
  /** Bytes after the last part, in the tail object. */
  tail: number;
}

export const stateKey = (key: BlobKey): string => `${STATES}${key}`;
const tailKey = (key: BlobKey, start: number): string => `${TAILS}${key}@${start}`;

/** Bytes in the parts: where the tail starts. */
export const partsSize = (state: UploadState): number =>
  state.parts.reduce((sum, part) => sum + part.size, 0);

export const offsetOf = (state: UploadState): number => partsSize(state) + state.tail;

/** The key of an upload from its state object's key (list). */
export function keyOfState(objectKey: string): BlobKey | null {
  return objectKey.startsWith(STATES) ? objectKey.slice(STATES.length) : null;
}

export const statePrefix = (prefix: string): string => `${STATES}${prefix}`;

const isAbsent = (err: unknown): boolean => {
  const name = s3ErrorName(err);
  return name === "NoSuchKey" || (s3Status(err) === 404 && name !== "NoSuchBucket");
};

function corrupt(key: BlobKey, why: string): GamedockError {
  return new GamedockError(
    "E_INTERNAL",
    `the books of the resumable upload at ${JSON.stringify(key)} (${stateKey(key)}) cannot be read: ${why}`,
    { key },
    { retryable: false },
  );
}

function checkState(key: BlobKey, value: unknown): UploadState {
  const state = value as Partial<UploadState> | null;
  if (
    typeof state !== "object" ||
    state === null ||
    state.v !== 1 ||
    state.key !== key ||
    !Array.isArray(state.parts) ||
    !Number.isSafeInteger(state.tail) ||
    !Number.isSafeInteger(state.partSize) ||
    !(state.uploadId === null || typeof state.uploadId === "string")
  ) {
    throw corrupt(key, "unexpected content");
  }
  return state as UploadState;
}

/** Reads the whole of a small object (state or tail) into memory; null when absent. */
async function readSmall(
  target: S3Target,
  objectKey: string,
  range?: string,
): Promise<Buffer | null> {
  return call(target, "read", objectKey, undefined, async () => {
    try {
      const answer = await target.client.send(
        new GetObjectCommand({ Bucket: target.bucket, Key: objectKey, Range: range }),
      );
      if (!answer.Body) return Buffer.alloc(0);
      return Buffer.from(await answer.Body.transformToByteArray());
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  });
}

async function putSmall(
  target: S3Target,
  objectKey: string,
  body: Buffer,
  contentType: string,
): Promise<void> {
  await call(target, "upload", objectKey, undefined, () =>
    target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: objectKey,
        Body: body,
        ContentLength: body.length,
        ContentMD5: contentMd5(body),
        ContentType: contentType,
      }),
    ),
  );
}

async function deleteObject(target: S3Target, objectKey: string): Promise<void> {
  await call(target, "delete", objectKey, undefined, async () => {
    try {
      await target.client.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: objectKey }));
    } catch (err) {
      if (s3ErrorName(err) !== "NoSuchKey") throw err;
    }
  });
}

export async function readState(target: S3Target, key: BlobKey): Promise<UploadState | null> {
  const bytes = await readSmall(target, stateKey(key));
  if (bytes === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw corrupt(key, "not JSON");
  }
  return checkState(key, parsed);
}

export async function writeState(target: S3Target, state: UploadState): Promise<void> {
  await putSmall(
    target,
    stateKey(state.key),
    Buffer.from(JSON.stringify(state)),
    "application/json",
  );
}

export async function deleteState(target: S3Target, key: BlobKey): Promise<void> {
  await deleteObject(target, stateKey(key));
}

/** Copies the state's tail into the start of `into`; returns its length. */
export async function readTail(
  target: S3Target,
  state: UploadState,
  into: Buffer,
): Promise<number> {
  if (state.tail === 0) return 0;
  const objectKey = tailKey(state.key, partsSize(state));
  const bytes = await readSmall(target, objectKey, `bytes=0-${state.tail - 1}`);
  // A store that ignores Range sends the whole (possibly longer) tail: only the counted bytes count.
  if (bytes === null || bytes.length < state.tail) {
    throw corrupt(
      state.key,
      `its tail ${objectKey} is missing or shorter than ${state.tail} bytes`,
    );
  }
  return bytes.copy(into, 0, 0, state.tail);
}

/** Stores `bytes` as the tail starting at `start`. */
export async function writeTail(
  target: S3Target,
  key: BlobKey,
  start: number,
  bytes: Buffer,
): Promise<void> {
  await putSmall(target, tailKey(key, start), bytes, "application/octet-stream");
}

export async function deleteTail(target: S3Target, key: BlobKey, start: number): Promise<void> {
  await deleteObject(target, tailKey(key, start));
}

/** Deletes every tail object of `key` (those of other keys that share the name's start stay). */
export async function deleteTails(target: S3Target, key: BlobKey): Promise<void> {
  const base = `${TAILS}${key}@`;
  for await (const object of listObjects(target, base)) {
    if (/^\d+$/.test(object.key.slice(base.length))) await deleteObject(target, object.key);
  }
}
