/**
 * Downloads: `GET|HEAD /files/:id`, the digest lookups and channel children
 * all answer through sendRepresentation, which applies the validators and
 * ranges of http-range.ts. The body stream is opened before any header is
 * set, so an object that went missing is a clean JSON error rather than a
 * broken 200. Bytes go from the store's stream to the socket through pipe(),
 * with no per-chunk work here.
 */
import type { Readable } from "node:stream";
import { sendLocalRange } from "./send-local.js";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ByteRange } from "../blob/index.js";
import { GamedockError } from "../core/index.js";
import type { FilesContext } from "./context.js";
import type { FileRecord } from "./contract.js";
import { contentDisposition } from "./disposition.js";
import { noneMatch, parseRange, rangeStillValid } from "./http-range.js";
import { validateFileId } from "./ids.js";
import { isExpired } from "./views.js";

/** Something downloadable: its validators, size, headers and a way to read (part of) it. */
export interface Representation {
  /** Quoted entity tag. */
  etag: string;
  size: number;
  lastModified: Date;
  contentType: string;
  /** The name the client should save it under. */
  name: string;
  open(range?: ByteRange): Promise<Readable>;
  /** The bytes as a local file (fs target): sent with reused buffers, see send-local.ts. */
  localPath?: string | null;
}

function notFound(what: string): GamedockError {
  return new GamedockError("E_NOT_FOUND", `no file ${what}`, { file: what });
}

/** The live file with this id, or E_NOT_FOUND (also for an expired one). */
export async function loadFile(ctx: FilesContext, id: string): Promise<FileRecord> {
  validateFileId(id);
  const file = await ctx.metadata.getFile(id);
  if (!file || isExpired(file)) throw notFound(`with id ${JSON.stringify(id)}`);
  return file;
}

/** The newest live file with this digest, or E_NOT_FOUND. */
export async function loadByDigest(
  ctx: FilesContext,
  kind: "sha256" | "md5",
  hex: string,
): Promise<FileRecord> {
  const file = await ctx.metadata.findByDigest(kind, hex);
  if (!file || isExpired(file)) throw notFound(`with ${kind} ${hex}`);
  return file;
}

export async function sendRepresentation(
  request: FastifyRequest,
  reply: FastifyReply,
  rep: Representation,
): Promise<FastifyReply> {
  const validators = { etag: rep.etag, "last-modified": rep.lastModified.toUTCString() };
  const head = request.method === "HEAD";
  if (noneMatch(request.headers["if-none-match"], rep.etag)) {
    // RFC 9110 §15.4.5: a 304 carries the validators, not the representation's metadata.
    return reply.code(304).headers(validators).send();
  }
  const headers: Record<string, string> = {
    ...validators,
    "accept-ranges": "bytes",
    "content-type": rep.contentType,
    "content-disposition": contentDisposition(rep.name),
    // Uploaded bytes are not ours to trust: never let a browser sniff them into HTML.
    "x-content-type-options": "nosniff",
  };
  const ifRange = request.headers["if-range"];
  const range = rangeStillValid(
    typeof ifRange === "string" ? ifRange : undefined,
    rep.etag,
    rep.lastModified,
  )
    ? parseRange(request.headers.range, rep.size)
    : ({ kind: "whole" } as const);

  if (range.kind === "unsatisfiable") {
    const error = new GamedockError(
      "E_RANGE",
      `Range ${JSON.stringify(request.headers.range)} selects no byte of ${rep.size}`,
      { size: rep.size },
    );
    return reply
      .code(416)
      .header("content-range", `bytes */${rep.size}`)
      .header("accept-ranges", "bytes")
      .send({ error: error.toJSON() });
  }
  const local = head ? null : (rep.localPath ?? null);
  if (local !== null && rep.size > 0) {
    const { start, end } = range.kind === "part" ? range : { start: 0, end: rep.size - 1 };
    const status = range.kind === "part" ? 206 : 200;
    const all: Record<string, string> = {
      ...headers,
      "content-length": String(end - start + 1),
    };
    if (range.kind === "part") all["content-range"] = `bytes ${start}-${end}/${rep.size}`;
    reply.hijack();
    reply.raw.writeHead(status, all);
    await sendLocalRange(reply.raw, local, start, end);
    return reply;
  }
  if (range.kind === "part") {
    const { start, end } = range;
    const body = head ? undefined : await rep.open({ start, end });
    return reply
      .code(206)
      .headers(headers)
      .header("content-range", `bytes ${start}-${end}/${rep.size}`)
      .header("content-length", String(end - start + 1))
      .send(body);
  }
  const body = head ? undefined : await rep.open();
  return reply.code(200).headers(headers).header("content-length", String(rep.size)).send(body);
}

/** A stored file as it is downloaded: ETag is its quoted sha256, Last-Modified its upload time. */
export function sendFile(
  ctx: FilesContext,
  request: FastifyRequest,
  reply: FastifyReply,
  file: FileRecord,
): Promise<FastifyReply> {
  return sendRepresentation(request, reply, {
    etag: `"${file.sha256}"`,
    size: file.size,
    lastModified: file.createdAt,
    contentType: file.contentType,
    name: file.name,
    open: (range) => ctx.store.get(file.blobKey, range),
    localPath: ctx.store.localPath(file.blobKey),
  });
}
