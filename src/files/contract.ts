/**
 * The file service's vocabulary (design note 004): files are named, immutable
 * byte sequences with digests; identical content is stored once (a blob per
 * sha256, many file ids may point at it). Metadata lives in SQL through Kysely
 * (SQLite, MySQL/MariaDB, PostgreSQL); bytes live in a BlobStore target.
 */

export interface FileRecord {
  /** URL-safe id: [A-Za-z0-9_-]{1,64}. */
  id: string;
  /** The client's file name (UTF-8, may be Chinese); only for Content-Disposition. */
  name: string;
  contentType: string;
  size: number;
  sha256: string; // lowercase hex
  md5: string; // lowercase hex
  /** Key of the bytes in the files target. */
  blobKey: string;
  /** Who uploaded it: a token's id, or "local" on loopback without a token. */
  owner: string;
  createdAt: Date;
  /** null: kept until deleted. */
  expiresAt: Date | null;
}

export interface BlobRecord {
  sha256: string;
  md5: string;
  size: number;
  blobKey: string;
}

/** Digests of an upload, lowercase hex. */
export interface UploadDigests {
  sha256: string;
  md5: string;
}

/** A tus upload in progress: what another instance needs to continue it. */
export interface UploadRecord {
  id: string;
  name: string;
  contentType: string;
  owner: string;
  /** Declared Upload-Length; null while deferred. */
  size: number | null;
  /** Bytes received so far (as of the last PATCH that saved the record). */
  offset: number;
  /**
   * sha256 and md5 of all the bytes, saved once the last byte is in and before
   * the upload becomes a file, so a finish cut short needs no reread; null
   * before then, or when they were not kept in step (read from the object).
   */
  digests: UploadDigests | null;
  createdAt: Date;
  expiresAt: Date;
}

/** What an upload asks to hold against its owner's quota (FileMetadata.reserve). */
export interface ReserveRequest {
  /** The upload's id: a PUT's file id or a tus upload id. The file it becomes has it too. */
  id: string;
  owner: string;
  /** Bytes the upload needs held, at least (a declared length, or what arrived so far). */
  bytes: number;
  /** Hold up to this many if they fit (≥ bytes): an upload of unknown length asks ahead. */
  upTo?: number;
  quotaBytes: number;
  /** Until when the hold counts if no tus upload record backs it (a PUT's lease). */
  expiresAt: Date;
  now: Date;
}

export interface ReserveOutcome {
  /** Bytes now held for the upload; null when even `bytes` did not fit (nothing changed). */
  held: number | null;
  /** Bytes of the owner's live files and other reservations, at the moment of deciding. */
  othersUse: number;
}

/** A page of GET /api/v1/files: live files, newest first. */
export interface FileListQuery {
  /**
   * Only files whose name contains `name` (case-insensitive; `%` and `_` are
   * literal characters) or, with `digestPrefix` (lowercase hex), whose sha256
   * or md5 starts with it.
   */
  search?: { name: string; digestPrefix?: string };
  /** Only files after this one in the order (the last file of the previous page). */
  after?: { createdAt: Date; id: string };
  limit: number;
  /** Files expired at this time are left out. */
  now: Date;
}

/**
 * Metadata repository. Every method is one statement or one transaction, safe
 * for several `gamedock files` instances sharing the database.
 */
export interface FileMetadata {
  /** The blob for this content, if stored. */
  findBlob(sha256: string): Promise<BlobRecord | null>;
  /**
   * Records a blob unless one with this sha256 exists; returns the blob that is
   * now recorded and whether it is the one given (false: the caller's copy is a
   * duplicate and should be deleted from the target).
   */
  addBlob(blob: BlobRecord): Promise<{ blob: BlobRecord; created: boolean }>;
  /** Removes the blob row if no file references it; returns true if removed. */
  removeBlobIfUnused(sha256: string): Promise<boolean>;

  /**
   * Records a file whose blob (file.sha256) is recorded: call addBlob first.
   * Rejects (E_INTERNAL) if the blob is not there — e.g. removeBlobIfUnused
   * took it concurrently — so no file ever points at deleted bytes. The
   * reservation with the file's id goes in the same transaction: the bytes it
   * held become the file's usage, never counted twice or not at all.
   */
  createFile(file: FileRecord): Promise<void>;
  getFile(id: string): Promise<FileRecord | null>;
  /** Newest file with this digest that is unexpired at `now` (default: the current time). */
  findByDigest(kind: "sha256" | "md5", hex: string, now?: Date): Promise<FileRecord | null>;
  /**
   * Unexpired files newest first — by createdAt, then id, both descending —
   * up to `limit`. Keyset paging (`after`): files recorded meanwhile never
   * shift a later page, nor make it repeat or skip one.
   */
  listFiles(query: FileListQuery): Promise<FileRecord[]>;
  /** Deletes the file row; returns it (null if absent). */
  deleteFile(id: string): Promise<FileRecord | null>;
  /**
   * What counts against an owner's quota at `now`: bytes of unexpired files
   * plus reservations — each until its tus upload record is deleted or, with
   * no record behind it (a PUT), until its expiresAt.
   */
  usedBytes(owner: string, now?: Date): Promise<number>;
  /**
   * Creates or resizes the reservation `id` if the owner's usage without it
   * plus `bytes` stays within the quota; otherwise changes nothing. Decided
   * under a per-owner row lock (one transaction), so parallel uploads of one
   * owner can never together pass the quota, on every dialect.
   */
  reserve(request: ReserveRequest): Promise<ReserveOutcome>;
  /** Moves a reservation's expiry (a PUT still receiving bytes keeps its lease). */
  renewReservation(id: string, expiresAt: Date): Promise<void>;
  /** Gives a reservation back (failed or cut upload); nothing if there is none. */
  releaseReservation(id: string): Promise<void>;
  /** Files whose expiresAt ≤ now, oldest first. */
  expiredFiles(now: Date, limit: number): Promise<FileRecord[]>;

  saveUpload(upload: UploadRecord): Promise<void>;
  getUpload(id: string): Promise<UploadRecord | null>;
  /** Deletes the upload record and, in the same transaction, its reservation. */
  deleteUpload(id: string): Promise<void>;
  expiredUploads(now: Date, limit: number): Promise<UploadRecord[]>;
}
