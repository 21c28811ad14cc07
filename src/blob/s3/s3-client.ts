/**
 * The one place an S3 client is built from a target's config, so every s3
 * code path (objects, multipart, resumable uploads) talks to the store with
 * the same settings.
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { BlobTargetConfig } from "../contract.js";

type S3Config = Extract<BlobTargetConfig, { driver: "s3" }>;

/** A host that does not answer fails in 10 s instead of hanging, ms. */
const CONNECTION_TIMEOUT_MS = 10_000;
/** A transfer that stalls this long is dead; a slow one is fine, ms. */
const SOCKET_TIMEOUT_MS = 120_000;

export function createS3Client(config: S3Config): S3Client {
  // gamedock runs on Node 20 (DESIGN.md) with an SDK version that supports it. The SDK's
  // notice that *future* SDK versions will need Node 22 would land in every CLI's stderr;
  // it concerns whoever upgrades the dependency (docs/storage.md), not the user.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    // The SDK's default CRC32 checksums are refused by many S3-compatible stores
    // (s3rver, older OSS/KS3/MinIO); parts carry Content-MD5 instead.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
    },
  });
}
