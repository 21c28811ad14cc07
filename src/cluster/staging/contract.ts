/**
 * The executor's staging cache (design note 002's download system): input
 * files stored by content (sha256), fetched once however many tasks need them,
 * verified before use, bounded in size.
 *
 * Promises (test/cluster/staging.test.ts checks each — the note's boundaries):
 * - Content-addressed: a file is kept under its sha256 and used only after its
 *   size and sha256 were verified; a mismatch rejects with
 *   E_INPUT_DIGEST_MISMATCH, deletes the bytes and caches nothing.
 * - Resume: a download cut short (the connection drops, the process is killed
 *   with -9) continues from the bytes already on disk with an HTTP Range
 *   request, across restarts.
 * - Dedupe in flight: concurrent acquires of one digest share one download;
 *   every waiter gets its result (or its failure).
 * - Size bound: at most `maxBytes` of verified files plus downloads in
 *   progress; least recently used unpinned files are evicted to make room.
 *   Files of a held lease are pinned. A single input larger than the cache, or
 *   a set of inputs that together exceed it, fails at once with
 *   E_CACHE_TOO_SMALL naming both sizes; inputs that would fit once pinned
 *   files are released wait for room (bounded by the caller's signal).
 * - Restart: the index is rebuilt from disk (verified files and partial
 *   downloads); nothing else survives (waiters do not).
 * - Reuse is safe: a cached file is handed out read-only (mode 0444), and its
 *   size and mtime are checked before each reuse; if they changed (a tool
 *   running as root wrote through a hard link), it is re-hashed and dropped if
 *   it no longer matches.
 */

export interface InputRef {
  sha256: string; // lowercase hex
  size: number;
}

/** Where the bytes of an input come from: an HTTP GET that honours Range. */
export interface InputSource {
  /** Opens the bytes of `input` from byte `offset` (0 or a resume point). */
  open(input: InputRef, offset: number, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}

export interface StagingLease {
  /** Absolute path of the verified, read-only file of `sha256` (held by this lease). */
  pathOf(sha256: string): string;
  /** Unpins the lease's files (they stay cached until evicted). Idempotent. */
  release(): void;
}

export interface StagingStats {
  /**
   * Bytes of verified files and partial downloads on disk, as counted against
   * maxBytes: a download in progress counts its whole size (its room is
   * reserved when it starts).
   */
  bytes: number;
  maxBytes: number;
  files: number;
  /** Bytes fetched from sources since the cache was opened (for tests and benchmarks). */
  fetchedBytes: number;
}

export interface StagingCache {
  /**
   * Makes every input available and verified, pinned until release(). Rejects
   * with E_CACHE_TOO_SMALL, E_INPUT_DIGEST_MISMATCH, E_INPUT_NOT_FOUND (the
   * source has no such content), E_STAGING_TIMEOUT / the signal's reason.
   */
  acquire(inputs: readonly InputRef[], signal: AbortSignal): Promise<StagingLease>;
  stats(): StagingStats;
  close(): Promise<void>;
}
