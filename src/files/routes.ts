/**
 * HTTP routes of the file service under /files (docs/files.md). They live in
 * their own fastify scope, which
 * - takes request bodies as raw streams (no parser reads them: PUT streams to
 *   the store, tus reads them itself), whatever their content type;
 * - does its own authentication (auth.ts: tokens or signed URLs), marking
 *   every route `auth: "self"` so the server-wide token hook lets it through.
 * Errors are thrown as GamedockError and rendered by the server's handler.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { GamedockError } from "../core/index.js";
import { authorizeFiles, ownerOf, ownsOnly, requireToken } from "./auth.js";
import { sendChannel } from "./channel-download.js";
import { clockOf, type FileMounts, type FilesContext } from "./context.js";
import { loadByDigest, loadFile, sendFile } from "./download.js";
import { hexParam, secondsParam } from "./params.js";
import { putUpload } from "./put-upload.js";
import { removeFile } from "./remove.js";
import { signedPath } from "./signed-url.js";
import { isTusRequest, tusHandler } from "./tus-dispatch.js";
import { fileView } from "./views.js";

type IdRequest = FastifyRequest<{ Params: { id: string } }>;
type Query = Record<string, unknown>;

async function deleteFile(
  ctx: FilesContext,
  request: IdRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const file = await loadFile(ctx, request.params.id);
  const owner = ownerOf(ctx, request);
  // With tokens, a token (or a user) deletes only what it uploaded; without, loopback is trusted.
  if (ownsOnly(ctx, request) && file.owner !== owner) {
    throw new GamedockError(
      "E_NO_PERMISSION",
      `file ${file.id} was uploaded with another API token; only that token may delete it`,
      { id: file.id },
    );
  }
  const removed = await removeFile(ctx, file.id);
  if (removed) {
    ctx.logger.info(
      { event: "file-deleted", fileId: file.id, blobRemoved: removed.blobRemoved, owner },
      "file deleted",
    );
  }
  return reply.code(204).send();
}

export function registerFileRoutes(
  app: FastifyInstance,
  ctx: FilesContext,
  mounts: FileMounts,
): void {
  void app.register((scope, _options, done) => {
    scope.addHook("onRoute", (route) => {
      route.config = { ...route.config, auth: "self" };
    });
    scope.addHook("onRequest", authorizeFiles(ctx));
    // fastify refuses an unparsable Content-Type itself; say so in our terms.
    scope.setErrorHandler((err) => {
      if ((err as { code?: unknown }).code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
        throw new GamedockError(
          "E_CONTENT_TYPE",
          "Content-Type is not a media type like application/octet-stream or image/png",
        );
      }
      throw err; // to the server's handler, which renders every error
    });
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, parsed) => {
      parsed(null); // leave the body unread in request.raw
    });
    const tus = tusHandler(ctx, mounts.tus);

    scope.put<{ Params: { name: string }; Querystring: Query }>(
      "/files/:name",
      async (request, reply) => {
        try {
          const file = await putUpload(ctx, {
            name: request.params.name,
            ttl: request.query.ttl,
            owner: ownerOf(ctx, request),
            body: request.raw,
          });
          const view = fileView(file);
          return await reply.code(201).header("location", view.url).send(view);
        } catch (err) {
          // The rest of the body is not wanted: close instead of reading it to keep the connection.
          if (!request.raw.complete) void reply.header("connection", "close");
          throw err;
        }
      },
    );

    scope.route<{ Params: { id: string } }>({
      method: ["GET", "HEAD"],
      url: "/files/:id",
      config: { fileAccess: "read" },
      handler: async (request, reply) => {
        // HEAD with Tus-Resumable asks for an upload's offset; tus needs a token, not a signature.
        if (request.method === "HEAD" && isTusRequest(request)) {
          requireToken(ctx, request);
          await tus(request, reply);
          return reply;
        }
        return sendFile(ctx, request, reply, await loadFile(ctx, request.params.id));
      },
    });

    for (const kind of ["sha256", "md5"] as const) {
      scope.route<{ Params: { hex: string } }>({
        method: ["GET", "HEAD"],
        url: `/files/by-${kind}/:hex`,
        config: { fileAccess: "read" },
        handler: async (request, reply) => {
          const file = await loadByDigest(ctx, kind, hexParam(request.params.hex, kind));
          return sendFile(ctx, request, reply, file);
        },
      });
    }

    scope.delete<{ Params: { id: string } }>("/files/:id", async (request, reply) => {
      if (isTusRequest(request)) {
        await tus(request, reply); // tus termination of an unfinished upload
        return reply;
      }
      return deleteFile(ctx, request, reply);
    });

    scope.post<{ Params: { id: string }; Querystring: Query }>(
      "/files/:id/sign",
      async (request) => {
        const file = await loadFile(ctx, request.params.id);
        const ttl = secondsParam(request.query.ttl, "ttl", 1, ctx.settings.signedUrlTtlSeconds);
        const expires = Math.floor(clockOf(ctx).now() / 1000) + ttl;
        return {
          url: signedPath(ctx.signingKey, file.id, expires),
          expiresAt: new Date(expires * 1000).toISOString(),
        };
      },
    );

    scope.route<{ Params: { id: string; channel: string } }>({
      method: ["GET", "HEAD"],
      url: "/files/:id/channel/:channel.apk",
      config: { fileAccess: "read" },
      handler: async (request, reply) => {
        const file = await loadFile(ctx, request.params.id);
        return sendChannel(ctx, request, reply, file, request.params.channel);
      },
    });

    // tus: creation, upload (PATCH) and discovery.
    scope.post("/files", tus);
    scope.post("/files/", tus);
    scope.patch("/files/:id", tus);
    for (const url of ["/files", "/files/", "/files/*"]) {
      scope.options(url, { config: { fileAccess: "open" } }, tus);
    }
    done();
  });
}
