/**
 * The HTTP server: fastify with gamedock's error shape for every failure
 * (routes, the router, Node's own refusals), strict JSON bodies, a request id
 * on every answer and log line, API-token auth when bound beyond loopback, one
 * access-log line per request, /healthz.
 */
import { randomBytes } from "node:crypto";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import {
  GamedockError,
  bearerToken,
  errorAnswer,
  isKnownToken,
  parseClientJson,
  rawErrorResponse,
  writeErrorResponse,
  type ErrorCode,
  type Logger,
} from "../core/index.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * "self": the route authenticates requests itself (the file service takes
     * tokens or signed URLs), so the server-wide token check skips it.
     * "token-or-signature": a request with `sig`/`expires` in its query is
     * left to the route to verify; any other needs the token as usual.
     */
    auth?: "self" | "token-or-signature";
  }
}

/** Whether a request asks to be judged by a signed link's `sig`/`expires` rather than a token. */
const carriesSignature = (query: unknown): boolean =>
  typeof query === "object" && query !== null && ("sig" in query || "expires" in query);

export interface HttpOptions {
  logger: Logger;
  /** Empty: no token needed (loopback only). */
  tokens: readonly string[];
  /** Largest JSON body, bytes (server.maxBodyBytes). */
  bodyLimit: number;
}

/** fastify's own refusals (bad JSON, body too large, wrong content type) by status. */
const FRAMEWORK_CODES: Record<number, ErrorCode> = {
  404: "E_NOT_FOUND",
  408: "E_REQUEST_TIMEOUT",
  413: "E_REQUEST_TOO_LARGE",
  415: "E_CONTENT_TYPE",
  431: "E_HEADERS_TOO_LARGE",
};

function frameworkError(err: FastifyError, bodyLimit: number): GamedockError {
  const status = err.statusCode ?? 400;
  const code = FRAMEWORK_CODES[status] ?? "E_INVALID_REQUEST";
  const message =
    code === "E_REQUEST_TOO_LARGE"
      ? `the request body is larger than ${bodyLimit} bytes (server.maxBodyBytes)`
      : err.message;
  return new GamedockError(code, message);
}

/** What Node answers itself when it cannot parse a request, in our error shape. */
function clientError(err: Error & { code?: string }): GamedockError {
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return new GamedockError(
        "E_HEADERS_TOO_LARGE",
        "the request headers are larger than this server accepts (16 KiB)",
      );
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new GamedockError("E_REQUEST_TIMEOUT", "the request was not received in time");
    default:
      return new GamedockError("E_INVALID_REQUEST", "the request is not valid HTTP/1.1");
  }
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const log = options.logger.child({ component: "http" });
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    return503OnClosing: true,
    // Our own ids, never the client's: they key log lines to error answers.
    genReqId: () => randomBytes(6).toString("hex"),
    requestIdHeader: false,
    // A file name of 255 bytes of UTF-8 is up to 765 characters percent-encoded.
    routerOptions: { maxParamLength: 1024 },
    // Paths the router cannot decode (bad percent-encoding, overlong names) in our error shape.
    frameworkErrors: (error, request, reply) => {
      writeErrorResponse(reply.raw, frameworkError(error, options.bodyLimit), {
        requestId: request.id,
        close: true, // the body, if any, was not read
      });
    },
    // Requests Node cannot parse (oversized headers, garbage) never reach a route.
    clientErrorHandler: (err, socket) => {
      if (socket.writable) socket.end(rawErrorResponse(clientError(err)));
      else socket.destroy();
    },
  });

  // Strict JSON for every route: duplicate keys, __proto__ and deep nesting are refused.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, body === "" ? undefined : parseClientJson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook("onRequest", (request, reply, done) => {
    // On the raw response, so routes that write it themselves (tus, streams) carry it too.
    reply.raw.setHeader("x-request-id", request.id);
    done();
  });

  if (options.tokens.length > 0) {
    app.addHook("onRequest", (request, _reply, done) => {
      const { auth } = request.routeOptions.config;
      if (
        request.url === "/healthz" ||
        auth === "self" ||
        (auth === "token-or-signature" && carriesSignature(request.query))
      ) {
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
        requestId: request.id,
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request",
    );
  });

  app.setErrorHandler((err, request, reply) => {
    const error =
      err instanceof GamedockError
        ? err
        : typeof (err as FastifyError).statusCode === "number" &&
            (err as FastifyError).statusCode! < 500
          ? frameworkError(err as FastifyError, options.bodyLimit)
          : err;
    const answer = errorAnswer(error, request.id);
    if (answer.internal) {
      log.error(
        { requestId: request.id, method: request.method, url: request.url, err },
        "request failed",
      );
    }
    void reply.code(answer.status).type("application/json; charset=utf-8").send(answer.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GamedockError(
      "E_NOT_FOUND",
      `no route ${request.method} ${request.url.split("?")[0] ?? ""}`,
    );
    const answer = errorAnswer(error, request.id);
    void reply.code(answer.status).type("application/json; charset=utf-8").send(answer.body);
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
