/**
 * The one error class the client rejects and reports with. `code` is either
 * the gateway's reply code (E_UNKNOWN_MSG, E_HANDLER, E_TIMEOUT, a handler's
 * own code …) or one of the client's codes below, so an application
 * branches on `err.code` whatever side the failure came from.
 */

/** Codes the client itself gives (the gateway's codes pass through unchanged). */
export const CLIENT_ERRORS = {
  /** No reply within the request's timeout (queued time included). */
  timeout: "E_CLIENT_TIMEOUT",
  /** The socket dropped after the request was sent: it may or may not have been handled. */
  disconnected: "E_DISCONNECTED",
  /** `whileDisconnected: "fail"` and no connection: the request was never sent. */
  notConnected: "E_NOT_CONNECTED",
  /** `close()` was called (or reconnecting is off and the socket closed). */
  closed: "E_CLOSED",
  /** The gateway closed with 4403 (an operator kicked the connection): no reconnect. */
  kicked: "E_KICKED",
  /** The gateway closed with 4401 and there is no `getToken` to get a new token. */
  unauthorized: "E_UNAUTHORIZED",
  /** Bad input to the client: a msgId out of range, a body JSON cannot carry, a bad URL. */
  invalid: "E_CLIENT_INVALID",
  /** A frame from the server the client cannot read. */
  protocol: "E_CLIENT_PROTOCOL",
  /** A connection attempt failed before the socket existed (getToken threw, …). */
  connect: "E_CONNECT",
  /** An application listener threw (reported on "error" so it does not stop the client). */
  listener: "E_LISTENER",
} as const;

export type ClientErrorCode = (typeof CLIENT_ERRORS)[keyof typeof CLIENT_ERRORS];

/** How the client stopped for good (the "closed" event, and what pending requests reject with). */
export type FinalCode = "E_CLOSED" | "E_KICKED" | "E_UNAUTHORIZED";

export interface ErrorDetails {
  /** The request's msgId, for request failures. */
  msgId?: number;
  /** The reply's body (`{message}` from the gateway), for reply codes. */
  body?: unknown;
  cause?: unknown;
}

export class GamedockClientError extends Error {
  override readonly name = "GamedockClientError";
  readonly code: string;
  readonly msgId: number | undefined;
  readonly body: unknown;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.msgId = details.msgId;
    this.body = details.body;
  }
}

export function isGamedockClientError(value: unknown): value is GamedockClientError {
  return value instanceof GamedockClientError;
}

/** An error's text for messages (never a token: callers pass errors, not URLs with one). */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
