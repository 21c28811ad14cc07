/**
 * The tus 1.0 side of the file service: @tus/server over our datastore
 * (store.ts). The routes hand it every tus request (POST /files/, HEAD, PATCH,
 * DELETE /files/:id with Tus-Resumable, OPTIONS) already authenticated, with
 * the owner the upload is accounted to; it writes the whole response.
 *
 * Before @tus/server sees a request, handle() answers what it would get wrong
 * or word vaguely: a PATCH without `application/offset+octet-stream` is 415
 * (tus-node says 400/403), an Upload-Length over the limit is 413 with the
 * limit named, a malformed Upload-Checksum is 400, an id that cannot exist is
 * 404. With API tokens on, an upload belongs to the token that created it:
 * another token's HEAD, PATCH or DELETE is 404, as if it did not exist.
 * Errors are JSON `{error: {code, message, requestId?}}` like the rest of the
 * API, written by core's errorAnswer / writeErrorResponse (json-server.ts for
 * the answers @tus/server writes).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ERRORS, MemoryLocker, type Locker } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import {
  type Clock,
  GamedockError,
  errorAnswer,
  isGamedockError,
  removeAbandonedTemps,
  type Logger,
  systemClock,
  writeErrorResponse,
} from "../../core/index.js";
import type { TusCaller, TusMount } from "../context.js";
import type { FileMetadata } from "../contract.js";
import { newFileId, validateFileId } from "../ids.js";
import { Quota, checkUploadSize, type Limits } from "../quota.js";
import { CHECKSUM_ALGORITHMS, parseUploadChecksum, type ExpectedChecksum } from "./checksum.js";
import { currentRequest, requireRequest, runInRequest, type TusRequestContext } from "./context.js";
import { JsonErrorServer } from "./json-server.js";
import { openRedisLocker } from "./open-redis-locker.js";
import type { RedisLocker } from "./redis-locker.js";
import { TusStore } from "./store.js";
import { sweepExpiredUploads, sweepOrphanedUploads } from "./sweep.js";
import { mapTusError, throwTus } from "./tus-errors.js";
import { describeUpload } from "./upload-metadata.js";

export interface TusHandlerOptions {
  /** The files target; uploads in progress are its resumable uploads under `tus/`. */
  store: BlobStore;
  metadata: FileMetadata;
  limits: Limits;
  /** An unfinished upload expires this long after its creation, s. */
  uploadTtlSeconds: number;
  /** Lifetime given to a finished file, s; 0 = kept until deleted. */
  fileTtlSeconds: number;
  /** files.lockRedisUrl: Redis for locks across instances; "" = in-process locks. */
  lockRedisUrl: string;
  /** Redis key prefix of the locks (default "gamedock:tus"); instances sharing uploads share it. */
  lockPrefix?: string;
  logger: Logger;
  /** Where the routes mount tus (default "/files"); upload URLs are `<path>/<id>`. */
  path?: string;
  /** Checksummed PATCH bodies wait here for verification (default <tmpdir>/gamedock-tus). */
  spoolDir?: string;
  /** How long a request asked to give up its upload's lock may finish writing, ms (default 3000). */
  lockDrainTimeoutMs?: number;
  /** Expiry and quota leases are measured by this clock (default the system's). */
  clock?: Clock;
}

export interface TusHandler extends TusMount {
  handle(req: IncomingMessage, res: ServerResponse, caller: TusCaller): Promise<void>;
  /**
   * Removes unfinished uploads whose expiry passed (default: by the handler's
   * clock) and orphaned upload storage; returns how many.
   */
  sweepExpired(now?: Date): Promise<number>;
  close(): Promise<void>;
}

const TUS_VERSION = "1.0.0";
const OFFSET_STREAM = "application/offset+octet-stream";

export async function createTusHandler(options: TusHandlerOptions): Promise<TusHandler> {
  const path = (options.path ?? "/files").replace(/\/+$/, "");
  const logger = options.logger.child({ component: "tus" });
  const clock = options.clock ?? systemClock;
  // Checksummed PATCH bodies wait here; spools of a killed process are removed at start and by the sweep.
  const spoolDir = options.spoolDir ?? join(tmpdir(), "gamedock-tus");
  await removeAbandonedTemps(spoolDir);
  const datastore = new TusStore({
    blobs: options.store,
    metadata: options.metadata,
    limits: options.limits,
    uploadTtlSeconds: options.uploadTtlSeconds,
    fileTtlSeconds: options.fileTtlSeconds,
    spoolDir,
    logger,
    clock,
    quota: new Quota(options.metadata, options.limits, clock),
  });
  // Loaded only when configured: a single instance never loads ioredis.
  const redisLocker: RedisLocker | null =
    options.lockRedisUrl === ""
      ? null
      : await openRedisLocker({
          url: options.lockRedisUrl,
          prefix: options.lockPrefix ?? "gamedock:tus",
          logger,
        });
  const locker: Locker = redisLocker ?? new MemoryLocker();

  const server = new JsonErrorServer({
    path,
    datastore,
    locker,
    maxSize: options.limits.maxUploadBytes,
    // Relative `/files/<id>`: right behind any proxy without trusting Forwarded headers.
    relativeLocation: true,
    namingFunction: () => newFileId(),
    getFileIdFromRequest: (req) => uploadIdOf(req.url, path) ?? undefined,
    disableTerminationForFinishedUploads: true,
    lockDrainTimeout: options.lockDrainTimeoutMs ?? 3000,
    allowedHeaders: ["Upload-Checksum"],
    exposedHeaders: ["Upload-Expires", "Tus-Checksum-Algorithm"],
    async onIncomingRequest(req, id) {
      // POST names a new upload; HEAD, PATCH and DELETE address an existing one.
      if (req.method !== "POST") await checkUpload(options.metadata, clock, req.method, id);
    },
    onUploadCreate(_req, upload) {
      describeUpload(upload.metadata, upload.id); // 400 before anything is stored
      // The quota is held in TusStore.create, where a failure can give it back.
      return Promise.resolve({});
    },
    async onUploadFinish(_req, upload) {
      // write() finalizes under the lock; this covers Upload-Length 0 (no write at all).
      // Otherwise it finds the file registered and only tidies up (idempotent).
      await datastore.finalizer.finalize(upload.id, null);
      return {};
    },
    onResponseError(req, err) {
      const context = currentRequest();
      const mapped = mapTusError(err);
      const answer = errorAnswer(mapped ?? err, context?.requestId);
      if (answer.internal) {
        logger.error(
          {
            event: "tus-request-failed",
            requestId: context?.requestId,
            method: req.method,
            url: req.url,
            err,
          },
          "tus request failed",
        );
      }
      if (context) context.answered = answer;
      return { status_code: answer.status, body: answer.body };
    },
  });

  return {
    async handle(req, res, caller) {
      let checksum: ExpectedChecksum | null;
      try {
        checksum = precheck(req, path, options.limits);
      } catch (err) {
        if (!isGamedockError(err)) throw err;
        sendError(res, req, err, caller.requestId);
        return;
      }
      if (req.method === "OPTIONS") {
        res.setHeader("Tus-Checksum-Algorithm", CHECKSUM_ALGORITHMS.join(","));
      }
      const context: TusRequestContext = {
        owner: caller.owner,
        ownerOnly: caller.ownerOnly,
        requestId: caller.requestId,
        checksum,
        answered: null,
      };
      await runInRequest(context, () => server.handle(req, res));
    },
    async sweepExpired(now = new Date(clock.now())) {
      const { metadata, store: blobs } = options;
      const expired = await sweepExpiredUploads(
        { blobs, metadata, finalizer: datastore.finalizer, locker, logger },
        now,
      );
      await removeAbandonedTemps(spoolDir);
      return expired + (await sweepOrphanedUploads({ blobs, metadata, logger }, now));
    },
    async close() {
      await redisLocker?.close();
    },
  };
}

/**
 * Before @tus/server looks at an existing upload:
 * - with tokens on, an upload (or the file a finished one became) is only for
 *   its owner; anyone else is told what an unknown id gets, so they do not
 *   learn that it exists. Unknown ids pass: @tus/server answers those.
 * - an upload past its expiry answers 410 to HEAD and PATCH by the handler's
 *   clock (@tus/server's own check reads the system time; with the system
 *   clock both agree). DELETE still terminates it, giving its space back.
 */
async function checkUpload(
  metadata: FileMetadata,
  clock: Clock,
  method: string,
  id: string,
): Promise<void> {
  const caller = requireRequest();
  const upload = await metadata.getUpload(id);
  if (caller.ownerOnly) {
    const owner = upload?.owner ?? (await metadata.getFile(id))?.owner;
    if (owner !== undefined && owner !== caller.owner) {
      throw new GamedockError("E_NOT_FOUND", "no tus upload at this URL");
    }
  }
  if (upload && method !== "DELETE" && upload.expiresAt.getTime() <= clock.now()) {
    throwTus(ERRORS.FILE_NO_LONGER_EXISTS);
  }
}

/** The upload id in `<path>/<id>`, or null for the collection `<path>[/]`. */
function uploadIdOf(url: string | undefined, path: string): string | null {
  const pathname = new URL(url ?? "/", "http://localhost").pathname;
  if (!pathname.startsWith(`${path}/`)) return null;
  const rest = pathname.slice(path.length + 1).replace(/\/$/, "");
  if (rest === "") return null;
  try {
    return decodeURIComponent(rest);
  } catch {
    return rest; // not an id either; validateFileId says 404
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

/** Throws the GamedockError a request gets before @tus/server sees it; returns its checksum. */
function precheck(req: IncomingMessage, path: string, limits: Limits): ExpectedChecksum | null {
  const method = req.method ?? "";
  // Without Tus-Resumable @tus/server answers 412 itself, as the protocol requires first.
  if (method === "OPTIONS" || header(req, "tus-resumable") !== TUS_VERSION) return null;
  const id = uploadIdOf(req.url, path);
  if (method === "HEAD" || method === "PATCH" || method === "DELETE") {
    if (id === null) {
      throw new GamedockError("E_NOT_FOUND", `${method} needs an upload URL ${path}/<id>`);
    }
    validateFileId(id);
  }
  if (method === "POST") {
    const length = header(req, "upload-length");
    if (length !== undefined && /^\d+$/.test(length)) checkUploadSize(Number(length), limits);
  }
  if (method === "PATCH" && header(req, "content-type") !== OFFSET_STREAM) {
    throw new GamedockError(
      "E_CONTENT_TYPE",
      `a tus PATCH must have Content-Type: ${OFFSET_STREAM} (got ${JSON.stringify(header(req, "content-type") ?? null)})`,
    );
  }
  return method === "PATCH" || method === "POST"
    ? parseUploadChecksum(header(req, "upload-checksum"))
    : null;
}

/** A refusal before @tus/server saw the request, through core's writer. */
function sendError(
  res: ServerResponse,
  req: IncomingMessage,
  err: GamedockError,
  requestId: string | undefined,
): void {
  const hasBody =
    req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  writeErrorResponse(res, err, {
    ...(requestId ? { requestId } : {}),
    headers: { "Tus-Resumable": TUS_VERSION },
    // An unread body (a refused PATCH) is not worth draining.
    close: hasBody && req.headers["content-length"] !== "0",
    head: req.method === "HEAD",
  });
}
