/**
 * The BlobStore contract: named objects (keys like "game/1.2/huawei.apk") in
 * an upload target. Drivers: fs (embedded, a directory) and s3 (any
 * S3-compatible store: AWS, Aliyun OSS, Kingsoft KS3, MinIO, COS).
 * test/blob/conformance.ts checks every promise against both drivers.
 *
 * - Atomic: an object appears whole or not at all (temp + rename; multipart complete).
 * - Streams: no method holds a whole object in memory.
 * - Resumable: `putFile` reports a checkpoint after each stored part; given that
 *   checkpoint again (after a crash), it uploads only the parts not yet stored.
 * - Per-part checksums: every part is sent with its MD5 so the store verifies it.
 */
import type { Readable } from "node:stream";

/** Keys: 1–1024 bytes of UTF-8, '/'-separated, no empty, '.' or '..' segment, no control characters. */
export type BlobKey = string;

export interface StoredPart {
  /** 1-based part number. */
  number: number;
  /** The store's ETag of the part (needed to complete an S3 multipart upload). */
  etag: string;
  size: number;
}

/** What must be persisted to resume an interrupted upload. JSON-serialisable. */
export interface UploadCheckpoint {
  key: BlobKey;
  uploadId: string;
  partSize: number;
  /** Size of the source when the upload began; a different size restarts the upload. */
  size: number;
  parts: StoredPart[];
}

export interface PutFileOptions {
  contentType?: string;
  /** Resume from this checkpoint (from onCheckpoint of an earlier, interrupted call). */
  checkpoint?: UploadCheckpoint | null;
  /** Called (and awaited) whenever the checkpoint changes: persist it before returning. */
  onCheckpoint?: (checkpoint: UploadCheckpoint) => Promise<void>;
  signal?: AbortSignal;
  /**
   * The caller has no further use for `file` (a work file): the driver may move
   * it into place instead of copying it (fs: a rename on the same filesystem).
   * Either way the caller should remove `file` afterwards if it still exists.
   */
  disposable?: boolean;
}

export interface PutResult {
  key: BlobKey;
  size: number;
  etag: string;
  /** Parts sent by this call (0 for a single PUT or an fs copy; fewer than all on resume). */
  partsUploaded: number;
}

export interface BlobInfo {
  key: BlobKey;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface IncompleteUpload {
  key: BlobKey;
  uploadId: string;
}

export interface BlobStore {
  readonly driver: "fs" | "s3";
  /** Uploads a local file; multipart above the part size (s3), resumable. */
  putFile(key: BlobKey, file: string, options?: PutFileOptions): Promise<PutResult>;
  /** Uploads a stream of unknown or known length (never buffered whole). */
  putStream(
    key: BlobKey,
    body: Readable,
    options?: { contentType?: string; signal?: AbortSignal },
  ): Promise<PutResult>;
  /** Reads an object or a byte range of it; E_NOT_FOUND if absent. */
  get(key: BlobKey, range?: ByteRange): Promise<Readable>;
  /** null if absent. */
  head(key: BlobKey): Promise<BlobInfo | null>;
  /** Idempotent: deleting an absent key succeeds. */
  delete(key: BlobKey): Promise<void>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Uploads begun but neither completed nor aborted (for recovery and for checks). */
  incompleteUploads(prefix?: string): Promise<IncompleteUpload[]>;
  abortUpload(upload: IncompleteUpload): Promise<void>;
  /**
   * The object's file on local disk when the driver keeps objects as files
   * (fs), else null: lets a server send it with reused buffers instead of a
   * stream that allocates one per chunk. Validates the key; the file may be absent.
   */
  localPath(key: BlobKey): string | null;
  /** An absolute public URL when the target has one configured (s3 `publicUrl`), else null. */
  publicUrl(key: BlobKey): string | null;
  close(): Promise<void>;
}

/** Target options as they appear in config (`targets.<name>`). */
export type BlobTargetConfig =
  | { driver: "fs"; /** directory; default <data>/blobs */ root: string }
  | {
      driver: "s3";
      endpoint: string; // https://oss-cn-hangzhou.aliyuncs.com, https://ks3-cn-beijing.ksyuncs.com, http://127.0.0.1:4569
      region: string;
      bucket: string;
      accessKeyId: string;
      secretAccessKey: string;
      /** true: http://endpoint/bucket/key (MinIO, s3rver); false: http://bucket.endpoint/key (OSS requires it). */
      forcePathStyle: boolean;
      partSize: number; // bytes, ≥ 5 MiB except for the last part
      partConcurrency: number; // parts in flight per upload
      /** Base URL the objects are publicly readable at (CDN), or "" for none. */
      publicUrl: string;
    };
