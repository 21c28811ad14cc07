/**
 * The HTTP server: fastify with gamedock's error shape, API-token auth when
 * bound beyond loopback, one access-log line per request, /healthz and /metrics.
 */
import Fastify, { type FastifyInstance } from "fastify";
import {
  GamedockError,
  bearerToken,
  isGamedockError,
  isKnownToken,
  type Logger,
} from "../core/index.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * "self": the route authenticates requests itself (the file service takes
     * tokens or signed URLs), so the server-wide token check skips it.
     */
    auth?: "self";
  }
}

export interface HttpOptions {
  logger: Logger;
  /** Empty: no token needed (loopback only). */
  tokens: readonly string[];
  /** Largest JSON body, bytes. */
  bodyLimit?: number;
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const log = options.logger.child({ component: "http" });
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 8 * 1024 * 1024,
    return503OnClosing: true,
    // A file name of 255 bytes of UTF-8 is up to 765 characters percent-encoded.
    routerOptions: { maxParamLength: 1024 },
    // Paths the router cannot decode (bad percent-encoding, overlong names) in our error shape.
    frameworkErrors: (error, _request, reply) => {
      const body = JSON.stringify({ error: { code: "E_INVALID_REQUEST", message: error.message } });
      reply.raw.writeHead(error.statusCode ?? 400, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
        connection: "close", // the body, if any, was not read
      });
      reply.raw.end(body);
    },
  });

  if (options.tokens.length > 0) {
    app.addHook("onRequest", (request, _reply, done) => {
      if (request.url === "/healthz" || request.routeOptions.config.auth === "self") {
        done();
        return;
      }
      const token = bearerToken(request.headers.authorization);
      if (!token || !isKnownToken(token, options.tokens)) {
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

/**
 * app.close(), closing connections that turn idle meanwhile. Node closes the
 * idle keep-alive connections once, as closing begins; one whose response was
 * just finishing then stays open, and holds the shutdown for keepAliveTimeout
 * (72 s), unless it is closed once it goes idle.
 */
export async function closeHttpServer(app: FastifyInstance): Promise<void> {
  const timer = setInterval(() => {
    app.server.closeIdleConnections();
  }, 50);
  try {
    await app.close();
  } finally {
    clearInterval(timer);
  }
}
