/**
 * The one place an error becomes an HTTP answer: `{error: {code, message,
 * details?, requestId?}}` with the registry's status, for every route — JSON
 * routes, raw handlers (tus, channel streams), the router's own refusals.
 *
 * A client never sees server internals: an unexpected failure answers a
 * generic message with the request id that finds its stack in the log, and
 * details that name server paths (`path`, `root`) are left out; messages of
 * errors about user input name what the user gave, not where the server keeps it.
 */
import type { ServerResponse } from "node:http";
import { GamedockError, isGamedockError } from "./errors.js";

/** Detail keys that would reveal server paths or internals. */
const PRIVATE_DETAILS = new Set(["path", "root", "stack", "cause"]);

export interface ErrorAnswer {
  status: number;
  body: string;
  /** True for a failure the server did not expect: log it with its stack and the request id. */
  internal: boolean;
}

function publicDetails(details: Record<string, unknown> | undefined) {
  if (!details) return undefined;
  const kept = Object.entries(details).filter(([key]) => !PRIVATE_DETAILS.has(key));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

/** The answer for `err`; `requestId` goes into the body of internal errors (and any other, if given). */
export function errorAnswer(err: unknown, requestId?: string): ErrorAnswer {
  const internal = !isGamedockError(err) || err.code === "E_INTERNAL";
  const error = internal
    ? new GamedockError(
        "E_INTERNAL",
        `unexpected failure on the server${requestId ? `; its log has the details under request id ${requestId}` : ""}`,
      )
    : err;
  const details = publicDetails(error.details);
  const payload: Record<string, unknown> = { code: error.code, message: error.message };
  if (details) payload.details = details;
  if (requestId) payload.requestId = requestId;
  return { status: error.httpStatus, body: JSON.stringify({ error: payload }), internal };
}

export interface WriteErrorOptions {
  requestId?: string;
  /** Extra headers (tus answers carry Tus-Resumable). */
  headers?: Record<string, string>;
  /** Close the connection after the answer: the request body was not read. */
  close?: boolean;
  /** A HEAD request gets the headers only. */
  head?: boolean;
}

/**
 * Writes the error answer on a raw response. If the answer has already begun,
 * the connection is cut instead: a half-sent answer must not look complete.
 */
export function writeErrorResponse(
  res: ServerResponse,
  err: unknown,
  options: WriteErrorOptions = {},
): ErrorAnswer {
  const answer = errorAnswer(err, options.requestId);
  if (res.headersSent) {
    res.destroy();
    return answer;
  }
  res.writeHead(answer.status, {
    ...options.headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(answer.body)),
    "cache-control": "no-store",
    ...(options.requestId ? { "x-request-id": options.requestId } : {}),
    ...(options.close ? { connection: "close" } : {}),
  });
  res.end(options.head ? undefined : answer.body);
  return answer;
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  413: "Payload Too Large",
  431: "Request Header Fields Too Large",
};

/**
 * A whole HTTP/1.1 error response as text, for a socket whose request Node
 * could not parse (no response object exists then); the connection closes after it.
 */
export function rawErrorResponse(err: GamedockError): string {
  const { status, body } = errorAnswer(err);
  return [
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    "connection: close",
    "",
    body,
  ].join("\r\n");
}
