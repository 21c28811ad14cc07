/**
 * Ceph's radosgw as a real S3 server (scripts/radosgw.sh starts it once per
 * machine; .ci/run does, or run the script by hand): a bucket per test file,
 * emptied and removed when the file is done. radosgw implements what s3rver
 * lacks — UploadPartCopy, ListParts, ListMultipartUploads, AbortMultipartUpload,
 * Content-MD5 checks, the 5 MiB minimum part size — so it is the reference
 * for the s3 driver's multipart paths.
 */
import { randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import type { BlobTargetConfig } from "../../src/blob/index.js";
import { SERVICES } from "./services.js";

/** The user scripts/radosgw.sh creates. */
const ACCESS_KEY_ID = "gamedock-test-access";
const SECRET_ACCESS_KEY = "gamedock-test-secret";

type S3Target = Extract<BlobTargetConfig, { driver: "s3" }>;

export interface RadosgwBucket {
  target: S3Target;
  /** A raw SDK client on the same bucket, for what the driver does not expose. */
  client: S3Client;
  /** Deletes every object and multipart upload, then the bucket. */
  drop(): Promise<void>;
}

export async function openRadosgwBucket(
  label: string,
  overrides: Partial<S3Target> = {},
): Promise<RadosgwBucket> {
  const bucket = `gd-${label}-${process.pid}-${randomBytes(3).toString("hex")}`.toLowerCase();
  const target: S3Target = {
    driver: "s3",
    endpoint: SERVICES.radosgw.url,
    region: "default",
    bucket,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    forcePathStyle: true,
    partSize: 5 * 1024 * 1024,
    partConcurrency: 2,
    publicUrl: "",
    ...overrides,
  };
  const client = new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    target,
    client,
    async drop() {
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const u of uploads.Uploads ?? []) {
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }),
        );
      }
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}
