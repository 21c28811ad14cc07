/**
 * Public surface of object storage. Drivers are loaded by name when a target
 * is opened, so the embedded fs default never loads the AWS SDK.
 */
import { GamedockError } from "../core/index.js";
import type { BlobStore, BlobTargetConfig } from "./contract.js";

export type {
  BlobHead,
  BlobInfo,
  BlobKey,
  BlobStore,
  BlobTargetConfig,
  ByteRange,
  ComposeProbe,
  ComposeSource,
  ServerSideCopy,
  IncompleteUpload,
  PutFileOptions,
  PutResult,
  ResumableUploadInfo,
  ResumableUploads,
  StoredPart,
  UploadCheckpoint,
} from "./contract.js";
export {
  MAX_KEY_BYTES,
  MAX_RESUMABLE_KEY_BYTES,
  validateBlobKey,
  validateBlobPrefix,
  validateResumableKey,
} from "./keys.js";
export type { BlobMetadata } from "./metadata.js";
export { RESERVED_AREAS, STORE_AREA, refuseReserved, reservedAreaOf } from "./reserved.js";
export {
  asciiFallback,
  contentDisposition,
  sendBlob,
  type BlobRepresentation,
  type SendBlobOptions,
} from "./http/index.js";

export async function openBlobStore(config: BlobTargetConfig): Promise<BlobStore> {
  switch (config.driver) {
    case "fs": {
      const { openFsBlobStore } = await import("./fs/fs.js");
      return openFsBlobStore(config);
    }
    case "s3": {
      const { openS3BlobStore } = await import("./s3/s3.js");
      return openS3BlobStore(config);
    }
    default: {
      const driver = (config as { driver?: unknown }).driver;
      throw new GamedockError(
        "E_CONFIG",
        `unknown blob target driver ${JSON.stringify(driver)}: use "fs" or "s3"`,
        { driver },
      );
    }
  }
}
