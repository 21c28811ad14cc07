/**
 * `GET|HEAD /files/:id/channel/:channel.apk?key=value…`: a channel child of a
 * stored mother APK, planned and streamed by channel-stream.ts (nothing is
 * written to disk), answered like any download — ETag, Range, If-Range — so a
 * CDN or a download manager can resume it.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { planChannelDownload, childStream } from "./channel-stream.js";
import type { FilesContext } from "./context.js";
import type { FileRecord } from "./contract.js";
import { answerBlob } from "./download.js";

/** The query's extras in order (their order is the Walle JSON's), minus the signed URL's own. */
function extrasOf(request: FastifyRequest): [string, string][] {
  const query = new URLSearchParams(request.url.split("?")[1] ?? "");
  return [...query].filter(([key]) => key !== "expires" && key !== "sig");
}

/** "game.apk" and channel "huawei" → "game-huawei.apk". */
function childName(mother: string, channel: string): string {
  return `${mother.replace(/\.apk$/i, "")}-${channel}.apk`;
}

export async function sendChannel(
  ctx: FilesContext,
  request: FastifyRequest,
  reply: FastifyReply,
  file: FileRecord,
  channel: string,
): Promise<FastifyReply> {
  const { plan, etag } = await planChannelDownload(
    ctx.store,
    file.blobKey,
    file.size,
    channel,
    extrasOf(request),
    { label: `file ${file.id} (${JSON.stringify(file.name)})` },
  );
  return answerBlob(ctx, request, reply, {
    etag: `"${etag}"`,
    size: plan.size,
    lastModified: file.createdAt,
    contentType: "application/vnd.android.package-archive",
    name: childName(file.name, channel),
    open: (range) => Promise.resolve(childStream(ctx.store, file.blobKey, plan, range)),
  });
}
