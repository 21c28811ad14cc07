/** What every s3 operation needs: the client, where it points, and how to report failures. */
import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { s3Error, type S3Operation, type S3Where } from "./s3-errors.js";

export const MiB = 1024 * 1024;
/** S3's limits for multipart uploads (OSS, KS3 and MinIO share them). */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PARTS = 10_000;

export interface S3Target extends S3Where {
  client: S3Client;
  partSize: number;
  partConcurrency: number;
}

/**
 * Runs one SDK call. An abort surfaces as the caller's abort reason (not the
 * SDK's AbortError); any other failure as s3Error's GamedockError.
 */
export async function call<T>(
  target: S3Where,
  operation: S3Operation,
  key: string,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (err) {
    signal?.throwIfAborted();
    throw s3Error(err, operation, target, key);
  }
}

/** Content-MD5 header value: the store recomputes it and refuses a body that does not match. */
export function contentMd5(body: Buffer): string {
  return createHash("md5").update(body).digest("base64");
}

/** A key as a URL path: each '/'-separated segment percent-encoded. */
export const keyPath = (key: string): string => key.split("/").map(encodeURIComponent).join("/");

/** ETags come quoted ("…"); callers compare and store them bare. */
export function bareEtag(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}
