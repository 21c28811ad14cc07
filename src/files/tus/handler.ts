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
 * 404. Errors are JSON `{error: {code, message}}` like the rest of the API.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryLocker, Server, type Locker } from "@tus/server";
import type { BlobStore } from "../../blob/index.js";
import {
  GamedockError,
  isGamedockError,
  systemClock,
  type Clock,
  type Logger,
} from "../../core/index.js";
import type { TusMount } from "../context.js";
import type { FileMetadata } from "../contract.js";
import { newFileId, validateFileId } from "../ids.js";
import { checkQuota, checkUploadSize, type Limits } from "../quota.js";
import { CHECKSUM_ALGORITHMS, parseUploadChecksum, type ExpectedChecksum } from "./checksum.js";
import { currentRequest, requireRequest, runInRequest, type TusRequestContext } from "./context.js";
import { openRedisLocker } from "./open-redis-locker.js";
import type { RedisLocker } from "./redis-locker.js";
import { TusStore } from "./store.js";
import { sweepExpiredUploads, sweepOrphanedUploads } from "./sweep.js";
import { internalError, mapTusError } from "./tus-errors.js";
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
  /** Creation and expiry times (default the system clock; tests move a ManualClock). */
  clock?: Clock;
}

export interface TusHandler extends TusMount {
  handle(req: IncomingMessage, res: ServerResponse, owner: string): Promise<void>;
  /** Removes unfinished uploads whose expiry passed, and orphaned upload storage; returns how many. */
  sweepExpired(now?: Date): Promise<number>;
  close(): Promise<void>;
}

const TUS_VERSION = "1.0.0";
const OFFSET_STREAM = "application/offset+octet-stream";
const JSON_TYPE = "application/json; charset=utf-8";

export async function createTusHandler(options: TusHandlerOptions): Promise<TusHandler> {
  const path = (options.path ?? "/files").replace(/\/+$/, "");
  const logger = options.logger.child({ component: "tus" });
  const clock = options.clock ?? systemClock;
  const datastore = new TusStore({
    blobs: options.store,
    metadata: options.metadata,
    limits: options.limits,
    uploadTtlSeconds: options.uploadTtlSeconds,
    fileTtlSeconds: options.fileTtlSeconds,
    spoolDir: options.spoolDir ?? join(tmpdir(), "gamedock-tus"),
    logger,
    clock,
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

  const server = new Server({
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
    async onUploadCreate(_req, upload) {
      describeUpload(upload.metadata, upload.id); // 400 before anything is stored
      // A deferred length is checked when it is declared (TusStore.declareUploadLength).
      await checkQuota(options.metadata, requireRequest().owner, upload.size ?? 0, options.limits);
      return {};
    },
    async onUploadFinish(_req, upload) {
      // write() finalizes under the lock; this covers Upload-Length 0 (no write at all).
      // Otherwise it finds the file registered and only tidies up (idempotent).
      await datastore.finalizer.finalize(upload.id, null);
      return {};
    },
    onResponseError(req, err) {
      let mapped = mapTusError(err);
      if (!mapped) {
        logger.error(
          { event: "tus-request-failed", method: req.method, url: req.url, err },
          "tus request failed",
        );
        mapped = internalError();
      }
      const context = currentRequest();
      if (context) context.jsonError = true;
      return { status_code: mapped.status, body: mapped.body };
    },
  });

  return {
    async handle(req, res, owner) {
      let checksum: ExpectedChecksum | null;
      try {
        checksum = precheck(req, path, options.limits);
      } catch (err) {
        if (!isGamedockError(err)) throw err;
        sendError(res, req, err);
        return;
      }
      if (req.method === "OPTIONS") {
        res.setHeader("Tus-Checksum-Algorithm", CHECKSUM_ALGORITHMS.join(","));
      }
      const context: TusRequestContext = { owner, checksum, jsonError: false };
      jsonTypeForErrors(res, context);
      await runInRequest(context, () => server.handle(req, res));
    },
    async sweepExpired(now = new Date(clock.now())) {
      const { metadata, store: blobs } = options;
      const expired = await sweepExpiredUploads(
        { blobs, metadata, finalizer: datastore.finalizer, locker, logger },
        now,
      );
      return expired + (await sweepOrphanedUploads({ blobs, metadata, logger }, now));
    },
    async close() {
      await redisLocker?.close();
    },
  };
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

function sendError(res: ServerResponse, req: IncomingMessage, err: GamedockError): void {
  const body = JSON.stringify({ error: err.toJSON() });
  const hasBody =
    req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
  res.writeHead(err.httpStatus, {
    "Tus-Resumable": TUS_VERSION,
    "Content-Type": JSON_TYPE,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    // An unread body (a refused PATCH) is not worth draining.
    ...(hasBody && req.headers["content-length"] !== "0" ? { Connection: "close" } : {}),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * @tus/server sends every body as text/plain; when the body is one of our JSON
 * errors (onResponseError ran), say so. Its node adapter calls
 * writeHead(status, statusText, [name, value, …]).
 */
function jsonTypeForErrors(res: ServerResponse, context: TusRequestContext): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  const patched = (...args: unknown[]): ServerResponse => {
    const headers = args[args.length - 1];
    if (context.jsonError && Array.isArray(headers)) {
      const at = headers.findIndex(
        (value, i) => i % 2 === 0 && String(value).toLowerCase() === "content-type",
      );
      if (at >= 0) headers[at + 1] = JSON_TYPE;
      else headers.push("Content-Type", JSON_TYPE);
    }
    return writeHead(...args);
  };
  res.writeHead = patched;
}
