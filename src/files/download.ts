/**
 * Downloads: `GET|HEAD /files/:id`, the digest lookups and channel children
 * all answer through blob's sendBlob (Range, If-Range, ETag, If-None-Match,
 * HEAD, Content-Disposition — src/blob/http), the one HTTP sender for stored
 * objects that pack-job downloads use too. Loading the record happens first,
 * through fastify, so an unknown id is an ordinary error answer; then the
 * route steps aside (hijack) and sendBlob writes the whole answer.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { sendBlob, type BlobRepresentation } from "../blob/index.js";
import { GamedockError } from "../core/index.js";
import { clockOf, type FilesContext } from "./context.js";
import type { FileRecord } from "./contract.js";
import { validateFileId } from "./ids.js";
import { countDownload } from "./traffic.js";
import { isExpired } from "./views.js";

function notFound(what: string): GamedockError {
  return new GamedockError("E_NOT_FOUND", `no file ${what}`, { file: what });
}

/** The live file with this id, or E_NOT_FOUND (also for an expired one). */
export async function loadFile(ctx: FilesContext, id: string): Promise<FileRecord> {
  validateFileId(id);
  const file = await ctx.metadata.getFile(id);
  if (!file || isExpired(file, clockOf(ctx).now())) {
    throw notFound(`with id ${JSON.stringify(id)}`);
  }
  return file;
}

/** The newest live file with this digest, or E_NOT_FOUND. */
export async function loadByDigest(
  ctx: FilesContext,
  kind: "sha256" | "md5",
  hex: string,
): Promise<FileRecord> {
  const now = clockOf(ctx).now();
  const file = await ctx.metadata.findByDigest(kind, hex, new Date(now));
  if (!file || isExpired(file, now)) throw notFound(`with ${kind} ${hex}`);
  return file;
}

/** Answers the request with `blob` (sendBlob on the raw objects); failures are logged here. */
export async function answerBlob(
  ctx: FilesContext,
  request: FastifyRequest,
  reply: FastifyReply,
  blob: BlobRepresentation,
): Promise<FastifyReply> {
  reply.hijack();
  countDownload(request.raw, reply.raw);
  await sendBlob(request.raw, reply.raw, blob, {
    requestId: request.id,
    onError: (err, internal) => {
      if (!internal) return;
      ctx.logger.error(
        { requestId: request.id, err, method: request.method, url: request.url },
        "download failed",
      );
    },
  });
  return reply;
}

/** A stored file as it is downloaded: ETag is its quoted sha256, Last-Modified its upload time. */
export function sendFile(
  ctx: FilesContext,
  request: FastifyRequest,
  reply: FastifyReply,
  file: FileRecord,
): Promise<FastifyReply> {
  return answerBlob(ctx, request, reply, {
    etag: `"${file.sha256}"`,
    size: file.size,
    lastModified: file.createdAt,
    contentType: file.contentType,
    name: file.name,
    open: (range) => ctx.store.get(file.blobKey, range),
    localPath: ctx.store.localPath(file.blobKey),
  });
}
