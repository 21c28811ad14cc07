/**
 * The file service's operator API under /api/v1/files (docs/files.md):
 *   GET /api/v1/files?q=&cursor=&limit=   stored files, newest first
 *   GET /api/v1/files/:id/apk             `apk info` of a stored APK
 * `gamedock serve` mounts them (not `gamedock files`, which serves /files
 * alone). Unlike /files, they do not authenticate requests themselves: they
 * are /api routes, so with server.tokens set the server-wide hook (http.ts)
 * admits API tokens only. A user's realtime token, which /files accepts for
 * the user's own files, is refused here (401), so no user lists everyone's.
 */
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { storedApkInfo } from "./apk-info.js";
import type { FilesContext } from "./context.js";
import { listFiles } from "./list.js";

export const FILES_API_PREFIX = "/api/v1/files";

function routes(ctx: FilesContext): FastifyPluginAsync {
  // eslint-disable-next-line @typescript-eslint/require-await -- fastify awaits a plugin's registration
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: Record<string, unknown> }>("/", (request) =>
      listFiles(ctx, request.query),
    );
    app.get<{ Params: { id: string } }>("/:id/apk", (request) =>
      storedApkInfo(ctx, request.params.id),
    );
  };
}

export function registerFileApiRoutes(app: FastifyInstance, ctx: FilesContext): void {
  void app.register(routes(ctx), { prefix: FILES_API_PREFIX });
}
