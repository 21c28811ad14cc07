/**
 * compose on S3: an object made of a range of another object plus a tail,
 * assembled by the store (UploadPartCopy), so the range's bytes never cross
 * the network again — what lets 100 channels of a 2 GB APK upload for the
 * bytes of one. And the probe that tells whether a store implements it,
 * with the sweep of what killed probes left.
 */
import { randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { GamedockError, isGamedockError } from "../../core/index.js";
import type { ComposeProbe, ComposeSource, PutResult, StoredPart } from "../contract.js";
import { checkComposeRange } from "../compose.js";
import { validateBlobKey } from "../keys.js";
import { STORE_AREA } from "../reserved.js";
import { s3ErrorName, s3Status } from "./s3-errors.js";
import { abortUploadQuietly, completeUpload, createUpload, uploadPart } from "./s3-multipart.js";
import { MIN_PART_SIZE, MiB, bareEtag, call, keyPath, type S3Target } from "./s3-target.js";

/** The largest part UploadPartCopy copies in one request (S3, OSS and KS3: 5 GiB). */
export const MAX_COPY_PART_SIZE = 5 * 1024 * MiB;

/** How long the probe waits for the store before it counts as a no. */
const PROBE_TIMEOUT_MS = 20_000;
/** A probe's leftovers older than this have no live writer (a probe makes four requests). */
const PROBE_ABANDONED_MS = 10 * 60_000;

/** `x-amz-copy-source`: bucket and key, each path segment URL-encoded. */
const copySource = (bucket: string, key: string): string => `${bucket}/${keyPath(key)}`;

/** [first, last] byte ranges covering [start, start + length), in even parts of at most `max` bytes. */
export function copyRanges(start: number, length: number, max: number): [number, number][] {
  const count = Math.ceil(length / max);
  // Even parts: splitting 5 GiB + 1 byte as 5 GiB + 1 byte would leave a last part too small.
  const size = Math.ceil(length / count);
  const ranges: [number, number][] = [];
  for (let at = 0; at < length; at += size) {
    ranges.push([start + at, start + Math.min(length, at + size) - 1]);
  }
  return ranges;
}

function checkSource(source: ComposeSource, tail: Buffer): void {
  checkComposeRange(source);
  if (tail.length > 0 && source.length < MIN_PART_SIZE) {
    throw new GamedockError(
      "E_RANGE",
      `compose needs at least ${MIN_PART_SIZE} bytes of ${JSON.stringify(source.key)} before a tail (the store's minimum part size), got ${source.length}: upload the object whole instead`,
    );
  }
}

async function copyPart(
  target: S3Target,
  key: string,
  uploadId: string,
  number: number,
  sourceKey: string,
  [first, last]: [number, number],
  signal: AbortSignal | undefined,
): Promise<StoredPart> {
  const copied = await call(target, "upload", key, signal, () =>
    target.client.send(
      new UploadPartCopyCommand({
        Bucket: target.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: number,
        CopySource: copySource(target.bucket, sourceKey),
        CopySourceRange: `bytes=${first}-${last}`,
      }),
      { abortSignal: signal },
    ),
  );
  return { number, etag: bareEtag(copied.CopyPartResult?.ETag), size: last - first + 1 };
}

/** The store's answer to a copy of a missing source or a range past its end, in our terms. */
function sourceError(err: unknown, source: ComposeSource): unknown {
  const name = isGamedockError(err) ? (err.details as { error?: string }).error : undefined;
  if (name === "InvalidRange") {
    return new GamedockError(
      "E_RANGE",
      `compose source range ${source.start}+${source.length} is past the end of ${JSON.stringify(source.key)}`,
    );
  }
  if (name === "NoSuchKey") {
    return new GamedockError(
      "E_NOT_FOUND",
      `compose source ${JSON.stringify(source.key)} does not exist`,
    );
  }
  return err;
}

export async function composeOnS3(
  target: S3Target,
  key: string,
  source: ComposeSource,
  tail: Buffer,
  options: { contentType?: string; signal?: AbortSignal },
): Promise<PutResult> {
  validateBlobKey(key);
  checkSource(source, tail);
  const { signal } = options;
  const uploadId = await createUpload(target, key, options.contentType, signal);
  try {
    const parts: StoredPart[] = [];
    for (const range of copyRanges(source.start, source.length, MAX_COPY_PART_SIZE)) {
      parts.push(
        await copyPart(target, key, uploadId, parts.length + 1, source.key, range, signal),
      );
    }
    if (tail.length > 0) {
      parts.push(await uploadPart(target, key, uploadId, parts.length + 1, tail, signal));
    }
    const etag = await completeUpload(target, key, uploadId, parts, signal);
    return { key, size: source.length + tail.length, etag, partsUploaded: parts.length };
  } catch (err) {
    await abortUploadQuietly(target, key, uploadId);
    throw sourceError(err, source);
  }
}

/**
 * One byte copied by UploadPartCopy into an upload that is then aborted, in
 * the store's own area: nothing is left behind and nothing a user stored is
 * touched.
 */
export async function probeComposeOnS3(target: S3Target): Promise<ComposeProbe> {
  const base = `${STORE_AREA}probe/compose-${randomBytes(6).toString("hex")}`;
  const { client, bucket } = target;
  const sourceKey = `${base}.source`;
  // A store that never answers must not hold up whoever asked: no answer is a no.
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  let uploadId: string | undefined;
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: sourceKey, Body: "x" }), {
      abortSignal: signal,
    });
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${base}.copy` }),
      { abortSignal: signal },
    );
    uploadId = created.UploadId;
    await client.send(
      new UploadPartCopyCommand({
        Bucket: bucket,
        Key: `${base}.copy`,
        UploadId: uploadId,
        PartNumber: 1,
        CopySource: copySource(bucket, sourceKey),
        CopySourceRange: "bytes=0-0",
      }),
      { abortSignal: signal },
    );
    return { supported: true };
  } catch (err) {
    const name = s3ErrorName(err) ?? "error";
    const status = s3Status(err);
    const why = signal.aborted
      ? `the store did not answer within ${PROBE_TIMEOUT_MS / 1000} s`
      : name === "NotImplemented" || status === 501
        ? "the store does not implement UploadPartCopy"
        : `a probe in ${STORE_AREA} failed`;
    return {
      supported: false,
      reason: `${why} (${name}${status === undefined ? "" : `, HTTP ${status}`}: ${(err as Error).message})`,
    };
  } finally {
    if (uploadId !== undefined) {
      await client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: bucket,
            Key: `${base}.copy`,
            UploadId: uploadId,
          }),
          { abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS) },
        )
        .catch(() => undefined);
    }
    await client
      .send(new DeleteObjectCommand({ Bucket: bucket, Key: sourceKey }), {
        abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      })
      .catch(() => undefined);
  }
}

/**
 * What killed probes left in the probe area: a probe lasts seconds (each of
 * its requests gives up after PROBE_TIMEOUT_MS), so an upload or object
 * there older than `olderThanMs` has no live writer. Returns how many went.
 */
export async function removeAbandonedProbes(
  target: S3Target,
  olderThanMs = PROBE_ABANDONED_MS,
): Promise<number> {
  const { client, bucket } = target;
  const area = `${STORE_AREA}probe/`;
  const before = Date.now() - olderThanMs;
  let removed = 0;
  const uploads = await client.send(
    new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: area }),
  );
  for (const upload of uploads.Uploads ?? []) {
    if (upload.Key === undefined || upload.UploadId === undefined) continue;
    if ((upload.Initiated?.getTime() ?? 0) > before) continue;
    await abortUploadQuietly(target, upload.Key, upload.UploadId);
    removed++;
  }
  const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: area }));
  for (const object of objects.Contents ?? []) {
    if (object.Key === undefined || (object.LastModified?.getTime() ?? 0) > before) continue;
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
    removed++;
  }
  return removed;
}
