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
 * - Uploads that grow across requests (`resumable`, below) appear at their key
 *   only when completed, whole.
 * - The store's own bookkeeping (temp files, uploads in progress) lives in
 *   the reserved area `.gamedock/` of the target: no key may name it and
 *   `list` never shows it.
 */
import type { Readable } from "node:stream";
import type { BlobMetadata } from "./metadata.js";

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
  /**
   * Recorded with the object and returned by `head` (metadata.ts says what
   * names and values are allowed). Replacing the object replaces it.
   */
  metadata?: BlobMetadata;
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

/** What `head` knows of an object: its info and the metadata `putFile` recorded ({} if none). */
export interface BlobHead extends BlobInfo {
  metadata: BlobMetadata;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/** A multipart upload of putFile/putStream begun and neither completed nor aborted. */
export interface IncompleteUpload {
  key: BlobKey;
  uploadId: string;
  /** When it began: callers judge by age whether anyone will still finish it. */
  initiated: Date;
}

/** An upload in progress, as `ResumableUploads.list` reports it. */
export interface ResumableUploadInfo {
  key: BlobKey;
  /** When it began or last received bytes. */
  lastModified: Date;
}

/**
 * Resumable uploads: an object that grows by appends — across requests,
 * processes and instances opened on the same target — and then appears at
 * its key atomically, whole. This is what a tus upload is stored as.
 *
 * - `begin(key)` starts an upload of 0 bytes at `key`. An upload already in
 *   progress at `key` is discarded; an object already at `key` stays as it
 *   is until `complete`.
 * - `offset(key)` is the number of bytes stored so far, the same for every
 *   process; null when no upload is in progress at `key`.
 * - `append(key, offset, body)` stores `body` after the first `offset` bytes
 *   and resolves with the new offset once the bytes are durable. `offset`
 *   must equal the stored offset, else E_UPLOAD_OFFSET and nothing is stored;
 *   no upload at `key`: E_NOT_FOUND. If the body fails or `signal` aborts
 *   midway, the bytes that arrived before are kept (offset() reports them)
 *   and the call rejects with that failure. If the store itself fails, bytes
 *   of this call not yet stored may be lost: offset() says what is stored.
 *   One append at a time per upload: the caller serialises them (tus holds a
 *   lock per upload).
 * - `read(key, start, end)` streams the stored bytes [start, end) of the
 *   upload, for a caller that must see them again (tus rebuilding an
 *   upload's digests after another instance took it over); null when the
 *   store cannot read an upload before it is completed (s3: the parts of a
 *   multipart upload are not readable). E_NOT_FOUND when no upload is at
 *   `key`; E_INVALID_REQUEST when the range is not within the stored bytes.
 * - `complete(key)` makes the bytes the object at `key` in one step (it
 *   replaces an earlier object) and ends the upload; E_NOT_FOUND when no
 *   upload is in progress.
 * - `abort(key)` removes the upload and every byte of it; idempotent,
 *   resolves whether there was one.
 * - `list(prefix)` yields the uploads in progress under `prefix`, so a
 *   caller can end those nobody will finish.
 * - Nothing of an upload in progress is visible through get, head, list or
 *   incompleteUploads. Keys follow the key rules and are at most
 *   MAX_RESUMABLE_KEY_BYTES long (room for the store's bookkeeping names).
 */
export interface ResumableUploads {
  begin(key: BlobKey, options?: { contentType?: string }): Promise<void>;
  offset(key: BlobKey): Promise<number | null>;
  append(
    key: BlobKey,
    offset: number,
    body: Readable,
    options?: { signal?: AbortSignal },
  ): Promise<number>;
  read(key: BlobKey, start: number, end: number): Promise<Readable | null>;
  complete(key: BlobKey): Promise<BlobInfo>;
  abort(key: BlobKey): Promise<boolean>;
  list(prefix: string): AsyncIterable<ResumableUploadInfo>;
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
  head(key: BlobKey): Promise<BlobHead | null>;
  /** Idempotent: deleting an absent key succeeds. */
  delete(key: BlobKey): Promise<void>;
  /** Objects whose key starts with `prefix`; never the store's own bookkeeping. */
  list(prefix: string): AsyncIterable<BlobInfo>;
  /**
   * Multipart uploads of putFile/putStream/compose begun but neither
   * completed nor aborted, keyed by the object they would become (s3); the
   * fs driver has none. Never a resumable upload's, nor one in the store's
   * own area (removeAbandoned's business).
   */
  incompleteUploads(prefix?: string): Promise<IncompleteUpload[]>;
  /** Idempotent: an upload already gone is fine. */
  abortUpload(upload: Pick<IncompleteUpload, "key" | "uploadId">): Promise<void>;
  /**
   * Removes what writers that no longer exist left behind, and nothing that a
   * live writer or a resumable upload still needs; returns how many leftovers
   * went. fs: temp files of dead processes of this host (another host's once
   * untouched for a day) and the bookkeeping of uploads a crash cut short;
   * s3: what killed compose probes left in the store's area (older than
   * 10 minutes; a probe lasts seconds) — of users' keys nothing, since no
   * writer can be proven gone there (callers judge multipart uploads by
   * `initiated` instead). Run it at start and periodically; safe from any
   * number of processes at once.
   */
  removeAbandoned(): Promise<number>;
  /**
   * Writes `key` as `source.length` bytes of the object `source.key` from
   * `source.start`, followed by `tail`, without the source's bytes leaving
   * the store: s3 starts a multipart upload whose first parts are copies of
   * the range (UploadPartCopy, split at the store's copy limit) and whose
   * last part is the tail; fs copies inside the kernel. Atomic like every
   * write; a compose cut short leaves what putFile would (an incomplete
   * upload, a temp file). A range past the source's end: E_RANGE; no source:
   * E_NOT_FOUND; a store without server-side copy: E_UPLOAD_FAILED, not
   * retryable (`probeCompose` tells beforehand). With a tail, the range must
   * be at least `composeMinBytes` long (every part but the last has the
   * store's minimum part size): E_RANGE otherwise.
   */
  compose(
    key: BlobKey,
    source: ComposeSource,
    tail: Buffer,
    options?: { contentType?: string; signal?: AbortSignal },
  ): Promise<PutResult>;
  /** The shortest range `compose` takes when a tail follows (s3: 5 MiB; fs: 1). */
  readonly composeMinBytes: number;
  /**
   * Whether `compose` works here. s3: creates a multipart upload with one
   * copy part in the store's own area and aborts it — a store answering
   * NotImplemented, or credentials that cannot write there, say no. fs: yes.
   */
  probeCompose(): Promise<ComposeProbe>;
  /** Uploads that grow by appends and appear whole on completion (tus). */
  readonly resumable: ResumableUploads;
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

/** The part of another object a composed object starts with (compose). */
export interface ComposeSource {
  /** An object of the same target. */
  key: BlobKey;
  /** Its first byte to take (0-based). */
  start: number;
  /** How many bytes to take (≥ 1). */
  length: number;
}

/** Whether `compose` works on a target, and if not, why (for logs and `gamedock doctor`). */
export type ComposeProbe = { supported: true } | { supported: false; reason: string };

/**
 * Whether the packer composes children in the target (`compose`) instead of
 * uploading them whole: "auto" asks `probeCompose` once.
 */
export type ServerSideCopy = "auto" | boolean;

/** Target options as they appear in config (`targets.<name>`). */
export type BlobTargetConfig =
  | {
      driver: "fs";
      /** directory; default <data>/blobs */ root: string;
      serverSideCopy?: ServerSideCopy;
    }
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
      serverSideCopy?: ServerSideCopy;
    };
