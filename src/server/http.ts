/**
 * The HTTP server: fastify with gamedock's error shape, API-token auth when
 * bound beyond loopback, one access-log line per request, /healthz and /metrics.
 */
import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { GamedockError, isGamedockError, type Logger } from "../core/index.js";

export interface HttpOptions {
  logger: Logger;
  /** Empty: no token needed (loopback only). */
  tokens: readonly string[];
  /** Largest JSON body, bytes. */
  bodyLimit?: number;
}

function tokenMatches(given: string, tokens: readonly string[]): boolean {
  const a = Buffer.from(given);
  return tokens.some((token) => {
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  });
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const log = options.logger.child({ component: "http" });
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 8 * 1024 * 1024,
    return503OnClosing: true,
  });

  if (options.tokens.length > 0) {
    app.addHook("onRequest", (request, _reply, done) => {
      if (request.url === "/healthz") {
        done();
        return;
      }
      const header = request.headers.authorization ?? "";
      const token = header.startsWith("Bearer ") ? header.slice(7) : "";
      if (!token || !tokenMatches(token, options.tokens)) {
        done(
          new GamedockError(
            "E_UNAUTHORIZED",
            "this server needs an API token: send Authorization: Bearer <token> (server.tokens)",
          ),
        );
        return;
      }
      done();
    });
  }

  app.addHook("onResponse", async (request, reply) => {
    log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request",
    );
  });

  app.setErrorHandler((err, request, reply) => {
    let error: GamedockError;
    if (isGamedockError(err)) {
      error = err;
    } else if (
      typeof (err as { statusCode?: unknown }).statusCode === "number" &&
      (err as { statusCode: number }).statusCode < 500
    ) {
      // fastify's own 4xx: bad JSON, body too large, wrong content type.
      const status = (err as { statusCode: number }).statusCode;
      void reply.code(status).send({
        error: { code: "E_INVALID_REQUEST", message: (err as Error).message },
      });
      return;
    } else {
      log.error({ err, url: request.url }, "request failed");
      error = new GamedockError("E_INTERNAL", (err as Error).message || "unexpected failure");
    }
    void reply.code(error.httpStatus).send({ error: error.toJSON() });
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: {
        code: "E_NOT_FOUND",
        message: `no route ${request.method} ${request.url.split("?")[0] ?? ""}`,
      },
    });
  });

  app.get("/healthz", () => ({ ok: true }));
  return app;
}
