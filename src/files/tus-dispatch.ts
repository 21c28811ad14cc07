/**
 * Hands tus 1.0 requests to the TusMount. tus shares its URLs with plain
 * downloads (an upload's URL /files/:id is also the finished file's URL), so
 * the routes tell them apart: POST and PATCH are always tus, HEAD and DELETE
 * are tus when they carry `Tus-Resumable`, OPTIONS is tus discovery. Until a
 * handler is mounted they answer 501.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ownerOf } from "./auth.js";
import type { FilesContext, TusMount } from "./context.js";
import { answerRaw } from "./hijack.js";

export const isTusRequest = (request: FastifyRequest): boolean =>
  request.headers["tus-resumable"] !== undefined;

export function tusHandler(ctx: FilesContext, tus: TusMount | null | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!tus) {
      // Not in the error registry on purpose: it disappears once tus is mounted.
      await reply.code(501).send({
        error: {
          code: "E_NOT_IMPLEMENTED",
          message:
            "resumable (tus) uploads are not available on this server yet; use PUT /files/<name>",
        },
      });
      return;
    }
    const owner = ownerOf(ctx, request);
    await answerRaw(ctx, request, reply, () => tus.handle(request.raw, reply.raw, owner));
  };
}
