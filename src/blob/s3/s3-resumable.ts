/**
 * Resumable uploads of the s3 driver (contract: ResumableUploads): one
 * multipart upload per upload, completed into the key; the books are in the
 * bucket's reserved area (s3-upload-state.ts), so any instance continues an
 * upload another one began.
 *
 * An append reads the body into one buffer of the upload's part size (after
 * the stored tail, which it reloads): a full buffer is sent as a part. When
 * the body ends — or fails, or the caller aborts — what is left is sent as a
 * part if it reaches S3's 5 MiB minimum, else stored as the new tail, and the
 * state is rewritten after every part and at the end. Memory per append: one
 * part size. complete sends the tail as the last part (or, for an upload that
 * never reached a part, the whole object in one PUT) and completes.
 */
import type { Readable } from "node:stream";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GamedockError, isGamedockError } from "../../core/index.js";
import { checkAppendOffset, drainBody, noUploadAt, offsetMismatch } from "../body.js";
import type { BlobInfo, BlobKey, ResumableUploadInfo, ResumableUploads } from "../contract.js";
import { validateBlobPrefix, validateResumableKey } from "../keys.js";
import { listObjects } from "./s3-list.js";
import { abortUpload, completeUpload, createUpload, uploadPart } from "./s3-multipart.js";
import { MAX_PARTS, MIN_PART_SIZE, call, contentMd5, type S3Target } from "./s3-target.js";
import {
  deleteState,
  deleteTail,
  deleteTails,
  keyOfState,
  offsetOf,
  partsSize,
  readState,
  readTail,
  statePrefix,
  writeState,
  writeTail,
  type UploadState,
} from "./s3-upload-state.js";

/** The multipart upload was completed or aborted meanwhile (an earlier complete was cut short). */
function isGoneUpload(err: unknown): boolean {
  return isGamedockError(err) && err.details?.error === "NoSuchUpload";
}

export class S3ResumableUploads implements ResumableUploads {
  constructor(
    private readonly target: S3Target,
    private readonly head: (key: BlobKey) => Promise<BlobInfo | null>,
  ) {}

  async begin(key: BlobKey, options: { contentType?: string } = {}): Promise<void> {
    validateResumableKey(key);
    await this.abort(key);
    await writeState(this.target, {
      v: 1,
      key,
      contentType: options.contentType ?? null,
      partSize: this.target.partSize,
      uploadId: null,
      parts: [],
      tail: 0,
    });
  }

  async offset(key: BlobKey): Promise<number | null> {
    validateResumableKey(key);
    const state = await readState(this.target, key);
    return state === null ? null : offsetOf(state);
  }

  async append(
    key: BlobKey,
    offset: number,
    body: Readable,
    options: { signal?: AbortSignal } = {},
  ): Promise<number> {
    validateResumableKey(key);
    checkAppendOffset(key, offset);
    const state = await readState(this.target, key);
    if (state === null) throw noUploadAt(key);
    const stored = offsetOf(state);
    if (stored !== offset) throw offsetMismatch(key, offset, stored);

    const buffer = Buffer.allocUnsafe(state.partSize);
    let filled = await readTail(this.target, state, buffer);
    const stopped = await drainBody(
      body,
      async (chunk) => {
        for (let bytes = chunk; bytes.length > 0;) {
          const copied = bytes.copy(buffer, filled);
          filled += copied;
          bytes = bytes.subarray(copied);
          if (filled === buffer.length) {
            await this.storePart(state, buffer);
            filled = 0;
          }
        }
      },
      options.signal,
    );
    // What arrived is kept, also when the body stopped early.
    if (filled > state.tail) {
      const rest = buffer.subarray(0, filled);
      if (filled >= MIN_PART_SIZE) await this.storePart(state, rest);
      else await this.storeTail(state, rest);
    }
    if (stopped) throw stopped.error;
    return offsetOf(state);
  }

  /** S3 cannot read the parts of a multipart upload before it is completed. */
  read(key: BlobKey): Promise<null> {
    validateResumableKey(key);
    return Promise.resolve(null);
  }

  async complete(key: BlobKey): Promise<BlobInfo> {
    validateResumableKey(key);
    const state = await readState(this.target, key);
    if (state === null) throw noUploadAt(key);
    const tail = Buffer.allocUnsafe(state.tail);
    await readTail(this.target, state, tail);
    if (state.uploadId === null) {
      await this.putWhole(state, tail);
    } else {
      try {
        const parts = [...state.parts];
        if (tail.length > 0) {
          // The last part may be shorter than 5 MiB.
          parts.push(
            await uploadPart(this.target, key, state.uploadId, parts.length + 1, tail, undefined),
          );
        }
        await completeUpload(this.target, key, state.uploadId, parts, undefined);
      } catch (err) {
        // Completed by an earlier call whose clean-up a crash cut short?
        if (!isGoneUpload(err) || (await this.head(key))?.size !== offsetOf(state)) throw err;
      }
    }
    await deleteTails(this.target, key);
    await deleteState(this.target, key);
    const info = await this.head(key);
    if (info === null) {
      throw new GamedockError(
        "E_INTERNAL",
        `the completed upload ${JSON.stringify(key)} is not in the bucket`,
        { key },
      );
    }
    return info;
  }

  async abort(key: BlobKey): Promise<boolean> {
    validateResumableKey(key);
    const state = await readState(this.target, key);
    if (state?.uploadId) await abortUpload(this.target, key, state.uploadId);
    await deleteTails(this.target, key);
    if (state === null) return false;
    await deleteState(this.target, key); // last: until then the upload can be found and aborted again
    return true;
  }

  async *list(prefix: string): AsyncIterable<ResumableUploadInfo> {
    validateBlobPrefix(prefix);
    for await (const object of listObjects(this.target, statePrefix(prefix))) {
      const key = keyOfState(object.key);
      if (key !== null) yield { key, lastModified: object.lastModified };
    }
  }

  /** Sends `bytes` as the next part and records it; the old tail is then no longer needed. */
  private async storePart(state: UploadState, bytes: Buffer): Promise<void> {
    if (state.parts.length >= MAX_PARTS) {
      throw new GamedockError(
        "E_UPLOAD_FAILED",
        `the resumable upload ${JSON.stringify(state.key)} reached S3's ${MAX_PARTS} parts of ${state.partSize} bytes; raise the target's partSize`,
        { key: state.key, partSize: state.partSize },
        { retryable: false },
      );
    }
    if (state.uploadId === null) {
      state.uploadId = await createUpload(
        this.target,
        state.key,
        state.contentType ?? undefined,
        undefined,
      );
      await writeState(this.target, state); // findable (and abortable) before any part
    }
    const oldTail = state.tail > 0 ? partsSize(state) : null;
    const part = await uploadPart(
      this.target,
      state.key,
      state.uploadId,
      state.parts.length + 1,
      bytes,
      undefined,
    );
    state.parts.push(part);
    state.tail = 0;
    await writeState(this.target, state);
    if (oldTail !== null) await deleteTail(this.target, state.key, oldTail);
  }

  /** Stores `bytes` (the whole tail, old bytes first) and records its length. */
  private async storeTail(state: UploadState, bytes: Buffer): Promise<void> {
    await writeTail(this.target, state.key, partsSize(state), bytes);
    state.tail = bytes.length;
    await writeState(this.target, state);
  }

  /** An upload that never reached a part: one PUT of its tail. */
  private async putWhole(state: UploadState, bytes: Buffer): Promise<void> {
    await call(this.target, "upload", state.key, undefined, () =>
      this.target.client.send(
        new PutObjectCommand({
          Bucket: this.target.bucket,
          Key: state.key,
          Body: bytes,
          ContentLength: bytes.length,
          ContentMD5: contentMd5(bytes),
          ContentType: state.contentType ?? undefined,
        }),
      ),
    );
  }
}
