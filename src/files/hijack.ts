/**
 * For handlers that write the response themselves on the raw Node objects
 * (the tus handler): fastify steps aside (hijack), and a
 * failure is still answered in gamedock's error shape (core's writer) if
 * nothing was sent yet, or the connection is cut if the answer had begun.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { writeErrorResponse } from "../core/index.js";
import type { FilesContext } from "./context.js";

export async function answerRaw(
  ctx: FilesContext,
  request: FastifyRequest,
  reply: FastifyReply,
  work: () => Promise<void>,
): Promise<void> {
  reply.hijack();
  try {
    await work();
  } catch (err) {
    const answer = writeErrorResponse(reply.raw, err, {
      requestId: request.id,
      // An unread request body would otherwise be read and thrown away to keep the connection.
      close: !request.raw.complete,
      head: request.method === "HEAD",
    });
    if (answer.internal || answer.status >= 500) {
      ctx.logger.error(
        { requestId: request.id, err, method: request.method, url: request.url },
        "request failed",
      );
    }
  }
}
