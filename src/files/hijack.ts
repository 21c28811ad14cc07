/**
 * For handlers that write the response themselves on the raw Node objects
 * (the tus handler, the channel stream): fastify steps aside (hijack), and a
 * failure is still answered in gamedock's error shape if nothing was sent yet.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { GamedockError, isGamedockError } from "../core/index.js";
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
    const res = reply.raw;
    if (!isGamedockError(err) || err.httpStatus >= 500) {
      ctx.logger.error({ err, method: request.method, url: request.url }, "request failed");
    }
    if (res.headersSent) {
      res.destroy(); // a half-sent answer must not look complete
      return;
    }
    const error = isGamedockError(err)
      ? err
      : new GamedockError("E_INTERNAL", (err as Error).message || "unexpected failure");
    const body = JSON.stringify({ error: error.toJSON() });
    res.writeHead(error.httpStatus, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      // An unread request body would otherwise be read and thrown away to keep the connection.
      ...(request.raw.complete ? {} : { connection: "close" }),
    });
    res.end(body);
  }
}
