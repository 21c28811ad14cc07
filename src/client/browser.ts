/**
 * `gamedock/client` for browsers: the same client on the page's own
 * WebSocket. Nothing here or below imports a Node module, so the bundle
 * (dist/client/gamedock-client.js, built by esbuild) stays small.
 */
import { createClient } from "./client.js";
import { CLIENT_ERRORS, GamedockClientError } from "./errors.js";
import type { ClientOptions, GamedockClient, WebSocketConstructor } from "./types.js";

export * from "./exports.js";

function pageWebSocket(): WebSocketConstructor {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!global) {
    throw new GamedockClientError(
      CLIENT_ERRORS.invalid,
      "no global WebSocket here: pass one as the WebSocket option",
    );
  }
  return global;
}

/** See index.ts: the same connect(), on the browser's WebSocket. */
export function connect(urls: string | readonly string[], options: ClientOptions): GamedockClient {
  const chosen = options.WebSocket;
  return createClient(urls, options, chosen ? () => chosen : pageWebSocket);
}
