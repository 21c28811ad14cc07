/**
 * The s3 BlobStore: any store that speaks the S3 API (AWS, Aliyun OSS,
 * Kingsoft KS3, MinIO, Tencent COS, s3rver). Loaded only when a target uses it,
 * so the embedded default never loads the AWS SDK.
 */
import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import type {
  BlobInfo,
  BlobKey,
  BlobStore,
  BlobTargetConfig,
  ByteRange,
  IncompleteUpload,
  PutFileOptions,
  PutResult,
} from "../contract.js";
import { validateBlobKey, validateBlobPrefix } from "../keys.js";
import { checkS3Config, printableEndpoint } from "./s3-config.js";
import { s3ErrorName, s3Status } from "./s3-errors.js";
import { getFromS3 } from "./s3-get.js";
import { abortUpload } from "./s3-multipart.js";
import { putFileToS3 } from "./s3-put-file.js";
import { putStreamToS3 } from "./s3-put-stream.js";
import { bareEtag, call, type S3Target } from "./s3-target.js";

type S3Config = Extract<BlobTargetConfig, { driver: "s3" }>;

class S3BlobStore implements BlobStore {
  readonly driver = "s3" as const;

  constructor(
    private readonly target: S3Target,
    private readonly publicBase: string,
  ) {}

  putFile(key: BlobKey, file: string, options?: PutFileOptions): Promise<PutResult> {
    return putFileToS3(this.target, key, file, options);
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

  async head(key: BlobKey): Promise<BlobInfo | null> {
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
    const { client, bucket } = this.target;
    let token: string | undefined;
    do {
      const page = await call(this.target, "list", prefix, undefined, () =>
        client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix || undefined,
            ContinuationToken: token,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          size: object.Size ?? 0,
          etag: bareEtag(object.ETag),
          lastModified: object.LastModified ?? new Date(0),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
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
        if (upload.Key !== undefined && upload.UploadId !== undefined) {
          found.push({ key: upload.Key, uploadId: upload.UploadId });
        }
      }
      if (!page.IsTruncated) return found;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async abortUpload(upload: IncompleteUpload): Promise<void> {
    validateBlobKey(upload.key);
    await abortUpload(this.target, upload.key, upload.uploadId);
  }

  localPath(): null {
    return null; // objects live in the store, not on this disk
  }

  publicUrl(key: BlobKey): string | null {
    validateBlobKey(key);
    if (this.publicBase === "") return null;
    return `${this.publicBase}/${key.split("/").map(encodeURIComponent).join("/")}`;
  }

  close(): Promise<void> {
    this.target.client.destroy();
    return Promise.resolve();
  }
}

export function openS3BlobStore(config: S3Config): Promise<BlobStore> {
  checkS3Config(config);
  // gamedock runs on Node 20 (DESIGN.md) with an SDK version that supports it. The SDK's
  // notice that *future* SDK versions will need Node 22 would land in every CLI's stderr;
  // it concerns whoever upgrades the dependency (docs/storage.md), not the user.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    // The SDK's default CRC32 checksums are refused by many S3-compatible stores
    // (s3rver, older OSS/KS3/MinIO); parts carry Content-MD5 instead.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      // A host that does not answer fails in 10 s instead of hanging.
      connectionTimeout: 10_000,
      // A transfer that stalls for 2 minutes is dead; a slow one is fine.
      socketTimeout: 120_000,
    },
  });
  const target: S3Target = {
    client,
    endpoint: printableEndpoint(config.endpoint),
    bucket: config.bucket,
    partSize: config.partSize,
    partConcurrency: config.partConcurrency,
  };
  return Promise.resolve(new S3BlobStore(target, config.publicUrl.replace(/\/+$/, "")));
}
