/**
 * One HTTP sender for stored objects, for every route that lets a client
 * download one: the file service's /files downloads and channel children, the
 * packaging service's channel downloads. It answers the whole exchange on the
 * raw Node request and response — so it serves any HTTP stack; a fastify
 * route calls `reply.hijack()` first and hands over `request.raw`, `reply.raw`:
 *
 * - GET and HEAD; `ETag` and `Last-Modified`; `If-None-Match` → 304;
 * - one byte range (`Range`, guarded by `If-Range`) → 206, or 416 E_RANGE;
 * - `Content-Disposition: attachment` with the UTF-8 name (disposition.ts),
 *   `X-Content-Type-Options: nosniff`, `Accept-Ranges: bytes`.
 *
 * The body is opened before the status line is written, so an object that
 * went missing is a clean JSON error answer, never a broken 200. Every error
 * answer goes through core's writeErrorResponse. Objects with a local path (fs
 * target) are sent with reused buffers (send-local.ts); others stream from the
 * store through pipeline(), keeping back-pressure.
 */
import { type FileHandle, open } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GamedockError, writeErrorResponse } from "../../core/index.js";
import type { ByteRange } from "../contract.js";
import { contentDisposition } from "./disposition.js";
import { noneMatch, parseRange, rangeStillValid } from "./ranges.js";
import { sendLocalRange } from "./send-local.js";

/** Something downloadable: its validators, size, headers and a way to read (part of) it. */
export interface BlobRepresentation {
  /** Quoted entity tag, e.g. `"<sha256>"`. */
  etag: string;
  size: number;
  lastModified: Date;
  contentType: string;
  /** The name a client should save it under (UTF-8; any characters). */
  name: string;
  /** A stream of the bytes, or of `range` of them (inclusive offsets). */
  open(range?: ByteRange): Promise<Readable>;
  /** The bytes as a local file (BlobStore.localPath): sent with reused buffers. */
  localPath?: string | null;
}

export interface SendBlobOptions {
  /** Named in error answers (and the request's log lines, by the caller). */
  requestId?: string;
  /**
   * Hears of a failure after sendBlob answered it (an error answer, or a cut
   * connection once the body had begun) — to log it. `internal`: not the
   * client's doing (a store that failed), so worth an error line with a stack.
   */
  onError?: (err: unknown, internal: boolean) => void;
}

/** Answers `req` with `blob` on `res`, errors included; resolves once the answer is written. Never rejects. */
export async function sendBlob(
  req: IncomingMessage,
  res: ServerResponse,
  blob: BlobRepresentation,
  options: SendBlobOptions = {},
): Promise<void> {
  const head = req.method === "HEAD";
  const validators = { etag: blob.etag, "last-modified": blob.lastModified.toUTCString() };
  if (noneMatch(header(req, "if-none-match"), blob.etag)) {
    // RFC 9110 §15.4.5: a 304 carries the validators, not the representation's metadata.
    res.writeHead(304, validators).end();
    return;
  }
  const range = rangeStillValid(header(req, "if-range"), blob.etag, blob.lastModified)
    ? parseRange(header(req, "range"), blob.size)
    : ({ kind: "whole" } as const);
  if (range.kind === "unsatisfiable") {
    const error = new GamedockError(
      "E_RANGE",
      `Range ${JSON.stringify(header(req, "range"))} selects no byte of ${blob.size}`,
      { size: blob.size },
    );
    writeErrorResponse(res, error, {
      ...(options.requestId ? { requestId: options.requestId } : {}),
      headers: { "content-range": `bytes */${blob.size}`, "accept-ranges": "bytes" },
      head,
    });
    return;
  }
  const { start, end } = range.kind === "part" ? range : { start: 0, end: blob.size - 1 };
  const headers: Record<string, string> = {
    ...validators,
    "accept-ranges": "bytes",
    "content-type": blob.contentType,
    "content-disposition": contentDisposition(blob.name),
    // Stored bytes are not ours to trust: never let a browser sniff them into HTML.
    "x-content-type-options": "nosniff",
    "content-length": String(Math.max(0, end - start + 1)),
  };
  if (range.kind === "part") headers["content-range"] = `bytes ${start}-${end}/${blob.size}`;
  const status = range.kind === "part" ? 206 : 200;

  let body: OpenedBody;
  try {
    body = await openBody(blob, head, range.kind === "part" ? { start, end } : undefined);
  } catch (err) {
    const answer = writeErrorResponse(res, err, {
      ...(options.requestId ? { requestId: options.requestId } : {}),
      head,
    });
    options.onError?.(err, answer.internal);
    return;
  }
  res.writeHead(status, headers);
  if (body.kind === "none") {
    res.end();
    return;
  }
  if (body.kind === "local") {
    try {
      await sendLocalRange(res, body.handle, start, end);
    } finally {
      await body.handle.close();
    }
    return;
  }
  try {
    await pipeline(body.stream, res);
  } catch (err) {
    res.destroy(); // a short body must never look complete
    // A client that went away is not a failure worth reporting.
    if (!isPrematureClose(err)) options.onError?.(err, true);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}

type OpenedBody =
  { kind: "none" } | { kind: "local"; handle: FileHandle } | { kind: "stream"; stream: Readable };

/** What will be sent, opened before the status line so a failure is still an error answer. */
async function openBody(
  blob: BlobRepresentation,
  head: boolean,
  range: ByteRange | undefined,
): Promise<OpenedBody> {
  if (head || blob.size === 0) return { kind: "none" };
  const local = blob.localPath ?? null;
  if (local !== null) return { kind: "local", handle: await open(local, "r") };
  return { kind: "stream", stream: await blob.open(range) };
}

function isPrematureClose(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === "ERR_STREAM_PREMATURE_CLOSE";
}
