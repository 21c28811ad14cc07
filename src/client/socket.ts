/**
 * One WebSocket attempt: the socket, the URL it went to, whether it was
 * welcomed, and the timer that gives up on it when no welcome comes. Its
 * events go to the callbacks; the client decides whether they still matter
 * (a socket it gave up on may go on reporting and must change nothing).
 */
import { SUBPROTOCOL } from "./frames.js";
import type { WebSocketConstructor, WebSocketLike } from "./types.js";

export interface Connection {
  readonly ws: WebSocketLike;
  /** The gateway URL (without token or resume parameters: safe to show). */
  readonly url: string;
  welcomed: boolean;
  /** Gives up on the attempt when no welcome came in time; cleared at the welcome. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves at the socket's close event. */
  readonly closed: Promise<void>;
}

export interface SocketEvents {
  message(connection: Connection, data: unknown): void;
  closed(connection: Connection, code: number, reason: string): void;
  timedOut(connection: Connection): void;
}

/** Opens a socket to `target` (the URL with token and resume parameters). Throws what the constructor throws. */
export function openSocket(
  WebSocketClass: WebSocketConstructor,
  url: string,
  target: string,
  welcomeTimeoutMs: number,
  events: SocketEvents,
): Connection {
  const ws = new WebSocketClass(target, [SUBPROTOCOL]);
  let markClosed!: () => void;
  const connection: Connection = {
    ws,
    url,
    welcomed: false,
    timer: undefined,
    closed: new Promise((resolve) => (markClosed = resolve)),
  };
  ws.onmessage = (event) => {
    events.message(connection, event.data);
  };
  ws.onerror = () => {
    // The close event that follows says what happened (browsers give no detail here).
  };
  ws.onclose = (event) => {
    markClosed();
    events.closed(connection, event.code, event.reason);
  };
  connection.timer = setTimeout(() => {
    events.timedOut(connection);
  }, welcomeTimeoutMs);
  return connection;
}
