/**
 * putStream for s3. The stream is cut into parts of partSize as it arrives:
 * if it ends within the first part, one PutObject; otherwise a multipart upload
 * with up to partConcurrency parts in flight. Reading pauses while that many
 * are in flight, so memory stays at partSize × partConcurrency whatever the
 * length. A stream cannot be replayed, so there is no checkpoint: on failure
 * or abort the multipart upload is aborted and nothing is left behind.
 */
import type { Readable } from "node:stream";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { asBuffer } from "../body.js";
import type { PutResult, StoredPart } from "../contract.js";
import { validateBlobKey } from "../keys.js";
import { abortUploadQuietly, completeUpload, createUpload, uploadPart } from "./s3-multipart.js";
import { bareEtag, call, contentMd5, type S3Target } from "./s3-target.js";

export async function putStreamToS3(
  target: S3Target,
  key: string,
  body: Readable,
  options: { contentType?: string; signal?: AbortSignal } = {},
): Promise<PutResult> {
  validateBlobKey(key);
  const { signal, contentType } = options;
  signal?.throwIfAborted();

  // Shared with the part tasks (an object, so the compiler does not narrow it away).
  const upload: { id: string | null; failures: unknown[] } = { id: null, failures: [] };
  const parts: StoredPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let nextNumber = 1;
  let size = 0;

  /** Sends a full (or the last) part; returns once fewer than partConcurrency are in flight. */
  const dispatch = async (part: Buffer): Promise<void> => {
    upload.id ??= await createUpload(target, key, contentType, signal);
    const id = upload.id;
    const number = nextNumber++;
    const task: Promise<void> = uploadPart(target, key, id, number, part, signal)
      .then((stored) => {
        parts.push(stored);
      })
      .catch((error: unknown) => {
        upload.failures.push(error);
      })
      .finally(() => {
        inFlight.delete(task);
      });
    inFlight.add(task);
    while (inFlight.size >= target.partConcurrency) await Promise.race(inFlight);
    if (upload.failures.length > 0) throw upload.failures[0];
  };

  try {
    let buffer = Buffer.allocUnsafe(target.partSize);
    let filled = 0;
    // Leaving this loop by an exception destroys `body`, which stops its producer.
    for await (const chunk of body as AsyncIterable<unknown>) {
      signal?.throwIfAborted();
      let bytes = asBuffer(chunk);
      while (bytes.length > 0) {
        const copied = bytes.copy(buffer, filled);
        filled += copied;
        size += copied;
        bytes = bytes.subarray(copied);
        if (filled === buffer.length) {
          await dispatch(buffer);
          buffer = Buffer.allocUnsafe(target.partSize);
          filled = 0;
        }
      }
    }
    signal?.throwIfAborted();
    if (upload.id === null) {
      const whole = buffer.subarray(0, filled);
      const sent = await call(target, "upload", key, signal, () =>
        target.client.send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: key,
            Body: whole,
            ContentLength: whole.length,
            ContentMD5: contentMd5(whole),
            ContentType: contentType,
          }),
          { abortSignal: signal },
        ),
      );
      return { key, size, etag: bareEtag(sent.ETag), partsUploaded: 0 };
    }
    if (filled > 0) await dispatch(buffer.subarray(0, filled));
    await Promise.all(inFlight);
    if (upload.failures.length > 0) throw upload.failures[0];
    const etag = await completeUpload(target, key, upload.id, parts, signal);
    return { key, size, etag, partsUploaded: parts.length };
  } catch (err) {
    await Promise.allSettled(inFlight);
    if (upload.id !== null) await abortUploadQuietly(target, key, upload.id);
    signal?.throwIfAborted();
    throw err;
  }
}
