/** The S3 multipart calls, each with its per-part checksum and its failure mapping. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { StoredPart } from "../contract.js";
import type { BlobMetadata } from "../metadata.js";
import { s3Error, s3ErrorName, s3Status } from "./s3-errors.js";
import { bareEtag, call, contentMd5, type S3Target } from "./s3-target.js";

export async function createUpload(
  target: S3Target,
  key: string,
  contentType: string | undefined,
  signal: AbortSignal | undefined,
  metadata?: BlobMetadata,
): Promise<string> {
  const created = await call(target, "upload", key, signal, () =>
    target.client.send(
      new CreateMultipartUploadCommand({
        Bucket: target.bucket,
        Key: key,
        ContentType: contentType,
        Metadata: metadata,
      }),
      { abortSignal: signal },
    ),
  );
  if (!created.UploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
  return created.UploadId;
}

/** Sends one part with its Content-MD5, so the store verifies every part it keeps. */
export async function uploadPart(
  target: S3Target,
  key: string,
  uploadId: string,
  number: number,
  body: Buffer,
  signal: AbortSignal | undefined,
): Promise<StoredPart> {
  const sent = await call(target, "upload", key, signal, () =>
    target.client.send(
      new UploadPartCommand({
        Bucket: target.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: number,
        Body: body,
        ContentLength: body.length,
        ContentMD5: contentMd5(body),
      }),
      { abortSignal: signal },
    ),
  );
  return { number, etag: bareEtag(sent.ETag), size: body.length };
}

export async function completeUpload(
  target: S3Target,
  key: string,
  uploadId: string,
  parts: StoredPart[],
  signal: AbortSignal | undefined,
): Promise<string> {
  const sorted = [...parts].sort((a, b) => a.number - b.number);
  const completed = await call(target, "upload", key, signal, () =>
    target.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: target.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: {
          Parts: sorted.map((part) => ({ PartNumber: part.number, ETag: `"${part.etag}"` })),
        },
      }),
      { abortSignal: signal },
    ),
  );
  const etag = bareEtag(completed.ETag);
  if (etag !== "") return etag;
  // Ceph radosgw 16 answers CompleteMultipartUpload with an empty ETag: ask the object.
  const found = await call(target, "read", key, signal, () =>
    target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }), {
      abortSignal: signal,
    }),
  );
  return bareEtag(found.ETag);
}

/** Abort that treats "already gone" as done: abort is idempotent for our callers. */
export async function abortUpload(target: S3Target, key: string, uploadId: string): Promise<void> {
  await call(target, "abort", key, undefined, async () => {
    try {
      await target.client.send(
        new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (err) {
      if (s3ErrorName(err) !== "NoSuchUpload" && s3Status(err) !== 404) throw err;
    }
  });
}

/** Best effort, for cleaning up after a failure that is already being reported. */
export async function abortUploadQuietly(
  target: S3Target,
  key: string,
  uploadId: string,
): Promise<void> {
  await abortUpload(target, key, uploadId).catch(() => undefined);
}

/** Stores that answer ListParts with one of these do not implement it. */
function unsupported(err: unknown): boolean {
  const status = s3Status(err);
  return s3ErrorName(err) === "NotImplemented" || status === 501 || status === 405;
}

/**
 * The parts the store holds for an upload; "gone" if the upload no longer
 * exists (completed or aborted), "unsupported" if the store has no ListParts.
 */
export async function listStoredParts(
  target: S3Target,
  key: string,
  uploadId: string,
  signal: AbortSignal | undefined,
): Promise<StoredPart[] | "gone" | "unsupported"> {
  const parts: StoredPart[] = [];
  let marker: string | undefined;
  try {
    for (;;) {
      const page = await target.client.send(
        new ListPartsCommand({
          Bucket: target.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumberMarker: marker,
        }),
        { abortSignal: signal },
      );
      for (const part of page.Parts ?? []) {
        if (part.PartNumber === undefined) continue;
        parts.push({ number: part.PartNumber, etag: bareEtag(part.ETag), size: part.Size ?? -1 });
      }
      if (!page.IsTruncated || !page.NextPartNumberMarker) return parts;
      marker = page.NextPartNumberMarker;
    }
  } catch (err) {
    if (s3ErrorName(err) === "NoSuchUpload") return "gone";
    if (unsupported(err)) return "unsupported";
    signal?.throwIfAborted();
    throw s3Error(err, "upload", target, key);
  }
}
