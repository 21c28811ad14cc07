/**
 * `PUT /files/:name`: the plain streaming upload for scripts and simple
 * clients. The body flows through a DigestMeter straight into the store under
 * a fresh key (`put/<id>`), so memory stays flat whatever the size; the file
 * is registered (and deduplicated) only once the store holds every byte.
 * Every failure — over the limit, over the quota, client gone, store error —
 * leaves nothing behind: the store discards a write that did not complete, a
 * completed object that cannot be registered is deleted, and the quota the
 * upload held is given back.
 *
 * Quota: a declared Content-Length is held before a byte is read; a chunked
 * body holds its bytes as they arrive and is cut off with 413 E_QUOTA the
 * moment the next byte would not fit. The hold is a lease (PUT_LEASE_MS),
 * renewed while bytes keep coming, so a process that dies mid-upload does not
 * keep it for ever.
 */
import type { IncomingMessage } from "node:http";
import { GamedockError } from "../core/index.js";
import { clockOf, type FilesContext } from "./context.js";
import type { FileRecord } from "./contract.js";
import { DigestMeter, type Digests } from "./digest-meter.js";
import { newFileId } from "./ids.js";
import { validateFileName } from "./names.js";
import { declaredLength, secondsParam, uploadContentType } from "./params.js";
import { Quota, checkUploadSize, type QuotaHold } from "./quota.js";
import { registerFile } from "./register.js";

export interface PutRequest {
  /** The decoded `:name` of the URL. */
  name: string;
  /** `?ttl=` as given. */
  ttl: unknown;
  owner: string;
  body: IncomingMessage;
}

function tooLarge(ctx: FilesContext): (size: number) => GamedockError {
  const limit = ctx.settings.maxUploadBytes;
  return (size) =>
    new GamedockError(
      "E_TOO_LARGE",
      `the upload passed ${limit} bytes (files.maxUploadBytes) after ${size} bytes; nothing was stored`,
      { limit },
    );
}

/** How long a PUT's quota hold lasts without being renewed by arriving bytes, ms. */
export const PUT_LEASE_MS = 15 * 60_000;

/** Streams `body` into `key`; resolves with its digests once the store has it all. */
async function streamToStore(
  ctx: FilesContext,
  key: string,
  body: IncomingMessage,
  contentType: string,
  hold: QuotaHold,
): Promise<Digests> {
  // Every chunk waits for its quota (held a step ahead: a database round trip per MiBs).
  const admit = hold.enabled ? (total: number): Promise<void> => hold.require(total) : null;
  const meter = new DigestMeter({
    limit: ctx.settings.maxUploadBytes,
    tooLarge: tooLarge(ctx),
    admit,
  });
  // pipe() does not forward the source's errors: a client that goes away must fail the write.
  const stop = (err: Error): void => {
    meter.destroy(err);
  };
  const closed = (): void => {
    if (!body.complete) meter.destroy(new Error("the client closed the connection mid-upload"));
  };
  body.on("error", stop).on("close", closed);
  // The store attaches to `meter` only after it is ready to write (a mkdir, a
  // multipart create); an error before then reaches the caller through putStream.
  meter.on("error", () => undefined);
  body.pipe(meter);
  try {
    await ctx.store.putStream(key, meter, { contentType });
  } catch (err) {
    throw meter.refusal ?? err;
  } finally {
    body.unpipe(meter);
    body.off("error", stop).off("close", closed);
  }
  return meter.digests();
}

/** Deletes what a failed upload stored under `key`, unless it became a registered blob. */
async function discard(ctx: FilesContext, key: string, sha256: string): Promise<void> {
  const blob = await ctx.metadata.findBlob(sha256);
  if (blob?.blobKey === key && !(await ctx.metadata.removeBlobIfUnused(sha256))) return;
  await ctx.store.delete(key);
}

export async function putUpload(ctx: FilesContext, request: PutRequest): Promise<FileRecord> {
  const clock = clockOf(ctx);
  const name = validateFileName(request.name);
  const ttl = secondsParam(request.ttl, "ttl", 0, ctx.settings.fileTtlSeconds);
  const contentType = uploadContentType(request.body.headers["content-type"]);
  const declared = declaredLength(request.body.headers["content-length"]);
  // Refused before a byte is read: the client learns at once, the store sees nothing.
  if (declared !== null) checkUploadSize(declared, ctx.settings);

  const id = newFileId();
  const key = `put/${id}`;
  const hold = new Quota(ctx.metadata, ctx.settings, clock).hold(id, request.owner, PUT_LEASE_MS);
  if (declared !== null) await hold.set(declared);
  let digests: Digests;
  try {
    digests = await streamToStore(ctx, key, request.body, contentType, hold);
  } catch (err) {
    await giveBack(ctx, hold);
    throw err;
  }
  try {
    // Decided again for the exact size: trims what a chunked body held ahead,
    // and if the lease lapsed during a long stall, the bytes must still fit.
    await hold.set(digests.size);
    const { file, deduplicated } = await registerFile(
      ctx.metadata,
      ctx.store,
      {
        id,
        name,
        contentType,
        owner: request.owner,
        size: digests.size,
        sha256: digests.sha256,
        md5: digests.md5,
        storedKey: key,
        expiresAt: ttl === 0 ? null : new Date(clock.now() + ttl * 1000),
      },
      new Date(clock.now()),
    );
    ctx.logger.info(
      { event: "file-stored", fileId: id, size: file.size, deduplicated, owner: request.owner },
      "file uploaded (PUT)",
    );
    return file;
  } catch (err) {
    await discard(ctx, key, digests.sha256).catch((cleanup: unknown) => {
      ctx.logger.warn({ err: cleanup, key }, "could not remove the bytes of a failed upload");
    });
    await giveBack(ctx, hold);
    throw err;
  }
}

/** A failed upload's hold goes back; if even that fails, its lease runs out by itself. */
async function giveBack(ctx: FilesContext, hold: QuotaHold): Promise<void> {
  await hold.release().catch((err: unknown) => {
    ctx.logger.warn({ err, id: hold.id }, "could not give back the quota of a failed upload");
  });
}
