/**
 * The s3 BlobStore: any store that speaks the S3 API (AWS, Aliyun OSS,
 * Kingsoft KS3, MinIO, Tencent COS, s3rver). Loaded only when a target uses it,
 * so the embedded default never loads the AWS SDK. Its own bookkeeping
 * (resumable uploads) is in the bucket's `.gamedock/` area.
 */
import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import type {
  BlobHead,
  BlobInfo,
  BlobKey,
  BlobStore,
  BlobTargetConfig,
  ByteRange,
  ComposeProbe,
  ComposeSource,
  IncompleteUpload,
  PutFileOptions,
  PutResult,
} from "../contract.js";
import {
  MAX_RESUMABLE_KEY_BYTES,
  isStoreKey,
  validateBlobKey,
  validateBlobPrefix,
} from "../keys.js";
import { createS3Client } from "./s3-client.js";
import { checkS3Config, printableEndpoint } from "./s3-config.js";
import { s3ErrorName, s3Status } from "./s3-errors.js";
import { getFromS3 } from "./s3-get.js";
import { listObjects } from "./s3-list.js";
import { abortUpload } from "./s3-multipart.js";
import { putFileToS3 } from "./s3-put-file.js";
import { putStreamToS3 } from "./s3-put-stream.js";
import { S3ResumableUploads } from "./s3-resumable.js";
import { MIN_PART_SIZE, bareEtag, call, keyPath, type S3Target } from "./s3-target.js";
import { composeOnS3, probeComposeOnS3, removeAbandonedProbes } from "./s3-compose.js";
import { readState } from "./s3-upload-state.js";
import { STORE_AREA } from "../reserved.js";

type S3Config = Extract<BlobTargetConfig, { driver: "s3" }>;

class S3BlobStore implements BlobStore {
  readonly driver = "s3" as const;
  readonly resumable: S3ResumableUploads;

  constructor(
    private readonly target: S3Target,
    private readonly publicBase: string,
  ) {
    this.resumable = new S3ResumableUploads(target, (key) => this.head(key));
  }

  putFile(key: BlobKey, file: string, options?: PutFileOptions): Promise<PutResult> {
    return putFileToS3(this.target, key, file, options);
  }

  readonly composeMinBytes = MIN_PART_SIZE;

  compose(
    key: BlobKey,
    source: ComposeSource,
    tail: Buffer,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<PutResult> {
    return composeOnS3(this.target, key, source, tail, options);
  }

  probeCompose(): Promise<ComposeProbe> {
    return probeComposeOnS3(this.target);
  }

  putStream(
    key: BlobKey,
    body: Readable,
    options?: { contentType?: string; signal?: AbortSignal },
  ): Promise<PutResult> {
    return putStreamToS3(this.target, key, body, options);
  }

  get(key: BlobKey, range?: ByteRange): Promise<Readable> {
    return getFromS3(this.target, key, range);
  }

  async head(key: BlobKey): Promise<BlobHead | null> {
    validateBlobKey(key);
    const { client, bucket } = this.target;
    return call(this.target, "read", key, undefined, async () => {
      try {
        const found = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return {
          key,
          size: found.ContentLength ?? 0,
          etag: bareEtag(found.ETag),
          lastModified: found.LastModified ?? new Date(0),
          metadata: found.Metadata ?? {},
        };
      } catch (err) {
        // HEAD has no body, so a missing object is just a 404 (named "NotFound").
        if (s3Status(err) === 404 && s3ErrorName(err) !== "NoSuchBucket") return null;
        throw err;
      }
    });
  }

  async delete(key: BlobKey): Promise<void> {
    validateBlobKey(key);
    const { client, bucket } = this.target;
    await call(this.target, "delete", key, undefined, async () => {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        // S3 answers 204 for an absent key; some compatible stores answer NoSuchKey.
        if (s3ErrorName(err) !== "NoSuchKey") throw err;
      }
    });
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    validateBlobPrefix(prefix);
    for await (const info of listObjects(this.target, prefix)) {
      if (!isStoreKey(info.key)) yield info;
    }
  }

  async incompleteUploads(prefix = ""): Promise<IncompleteUpload[]> {
    validateBlobPrefix(prefix);
    const { client, bucket } = this.target;
    const found: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await call(this.target, "list", prefix, undefined, () =>
        client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        ),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        if (upload.Key.startsWith(STORE_AREA)) continue; // the driver's own (probes): removeAbandoned
        found.push({
          key: upload.Key,
          uploadId: upload.UploadId,
          initiated: upload.Initiated ?? new Date(0),
        });
      }
      if (!page.IsTruncated) return this.withoutResumable(found);
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async abortUpload(upload: Pick<IncompleteUpload, "key" | "uploadId">): Promise<void> {
    validateBlobKey(upload.key);
    await abortUpload(this.target, upload.key, upload.uploadId);
  }

  /**
   * No writer of a user's key can be proven gone on a bucket (no pids, no
   * leases): callers judge multipart uploads by `initiated` and resumable
   * uploads by `lastModified` instead. The compose probe's leftovers are the
   * driver's own, and a probe lasts seconds: those of killed probes go.
   */
  removeAbandoned(): Promise<number> {
    return removeAbandonedProbes(this.target);
  }

  /** A resumable upload's multipart upload is its books' business, not an orphan. */
  private async withoutResumable(found: IncompleteUpload[]): Promise<IncompleteUpload[]> {
    const resumableIds = new Map<string, string | null>();
    const kept: IncompleteUpload[] = [];
    for (const upload of found) {
      if (!resumableIds.has(upload.key)) {
        const fits = Buffer.byteLength(upload.key, "utf8") <= MAX_RESUMABLE_KEY_BYTES;
        const state = fits ? await readState(this.target, upload.key) : null;
        resumableIds.set(upload.key, state?.uploadId ?? null);
      }
      if (resumableIds.get(upload.key) !== upload.uploadId) kept.push(upload);
    }
    return kept;
  }

  localPath(): null {
    return null; // objects live in the store, not on this disk
  }

  publicUrl(key: BlobKey): string | null {
    validateBlobKey(key);
    if (this.publicBase === "") return null;
    return `${this.publicBase}/${keyPath(key)}`;
  }

  close(): Promise<void> {
    this.target.client.destroy();
    return Promise.resolve();
  }
}

export function openS3BlobStore(config: S3Config): Promise<BlobStore> {
  checkS3Config(config);
  const target: S3Target = {
    client: createS3Client(config),
    endpoint: printableEndpoint(config.endpoint),
    bucket: config.bucket,
    partSize: config.partSize,
    partConcurrency: config.partConcurrency,
  };
  return Promise.resolve(new S3BlobStore(target, config.publicUrl.replace(/\/+$/, "")));
}
