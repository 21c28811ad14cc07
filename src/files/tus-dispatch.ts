/**
 * Hands tus 1.0 requests to the TusMount. tus shares its URLs with plain
 * downloads (an upload's URL /files/:id is also the finished file's URL), so
 * the routes tell them apart: POST and PATCH are always tus, HEAD and DELETE
 * are tus when they carry `Tus-Resumable`, OPTIONS is tus discovery.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ownerOf, ownsOnly } from "./auth.js";
import type { FilesContext, TusMount } from "./context.js";
import { answerRaw } from "./hijack.js";

export const isTusRequest = (request: FastifyRequest): boolean =>
  request.headers["tus-resumable"] !== undefined;

export function tusHandler(ctx: FilesContext, tus: TusMount) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const caller = {
      owner: ownerOf(ctx, request),
      ownerOnly: ownsOnly(ctx, request),
      requestId: request.id,
    };
    await answerRaw(ctx, request, reply, () => tus.handle(request.raw, reply.raw, caller));
  };
}
