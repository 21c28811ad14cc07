/**
 * What the file service's routes, the sweeper and the tus handler share: the
 * metadata repository, the BlobStore of `files.target`, the limits, the key
 * that signs download URLs and the API tokens. Built by src/server/files.ts
 * from the configuration; tests may build one directly.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { BlobStore } from "../blob/index.js";
import { type Clock, type Logger, systemClock } from "../core/index.js";
import type { FileMetadata } from "./contract.js";
import type { Limits } from "./quota.js";

export interface FilesSettings extends Limits {
  /** Default lifetime of a file, seconds (0 = kept until deleted). */
  fileTtlSeconds: number;
  /** An unfinished tus upload expires after this, seconds. */
  uploadTtlSeconds: number;
  /** Default lifetime of a signed download URL, seconds. */
  signedUrlTtlSeconds: number;
  /** How often expired files and uploads are removed, ms. */
  sweepIntervalMs: number;
  /** Redis for tus locks across instances ("" = in-process locks). */
  lockRedisUrl: string;
  /** Prefix of the tus lock keys and channels in that Redis (files.lockPrefix). */
  lockPrefix: string;
}

export interface FilesContext {
  readonly metadata: FileMetadata;
  /** The target that holds the bytes (`files.target`). */
  readonly store: BlobStore;
  readonly settings: FilesSettings;
  /** HMAC-SHA256 key of signed download URLs. */
  readonly signingKey: Buffer;
  /** server.tokens; empty = no token needed (only allowed on loopback). */
  readonly tokens: readonly string[];
  /**
   * Verifies users' realtime tokens, so a user may upload and manage its own
   * files (owner "uid:<uid>"); serve sets it to the gateway's authenticator.
   */
  users?: { verify(token: string): Promise<{ uid: string }> };
  readonly logger: Logger;
  /** What expiry, leases and signed URLs measure time by; default the system clock (tests move a ManualClock). */
  readonly clock?: Clock;
}

/** The context's clock: its own, or the system's. */
export function clockOf(ctx: Pick<FilesContext, "clock">): Clock {
  return ctx.clock ?? systemClock;
}

/** Who sends a tus request, as the routes established it. */
export interface TusCaller {
  /** Who a new upload is accounted to: a token's id, or "local". */
  owner: string;
  /**
   * With API tokens on, an upload is only for the token that created it:
   * another token's HEAD, PATCH or DELETE is answered 404 as if it did not exist.
   */
  ownerOnly: boolean;
  /** The request's id, named in error answers and the log. */
  requestId?: string;
}

/**
 * The seam for the tus 1.0 handler (src/files/tus). It answers every tus
 * request itself — status, headers, body — on the raw Node objects, because
 * @tus/server works on those. The routes hand it requests already
 * authenticated, with the caller (owner) the upload is accounted to.
 */
export interface TusMount {
  handle(req: IncomingMessage, res: ServerResponse, caller: TusCaller): Promise<void>;
  /** Removes uploads whose expiresAt passed (rows and partial bytes); returns how many. */
  sweepExpired?(now: Date): Promise<number>;
  close?(): Promise<void>;
}

/** Optional parts plugged into the routes. */
export interface FileMounts {
  tus: TusMount;
}
