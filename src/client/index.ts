/**
 * `gamedock/client` for Node (and bundlers that do not pick browser.ts):
 * connect() with the WebSocket class of the option, else the global one
 * (Node 22+, Deno, Bun), else the `ws` package — Node 20 has no global
 * WebSocket. `ws` is imported only when needed, so nothing loads it where a
 * global exists.
 */
import { createClient } from "./client.js";
import type { ClientOptions, GamedockClient, WebSocketConstructor } from "./types.js";

export * from "./exports.js";

async function nodeWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  const { default: WebSocket } = await import("ws");
  return WebSocket;
}

/**
 * Connects to a gateway — `urls` is one URL or several to fail over across
 * (ws://host:port/ws, or the server's http://host:port base) — and keeps
 * reconnecting until close(). Returns at once; requests made before the
 * welcome are queued (see `whileDisconnected`).
 */
export function connect(urls: string | readonly string[], options: ClientOptions): GamedockClient {
  const chosen = options.WebSocket;
  return createClient(urls, options, chosen ? () => chosen : nodeWebSocket);
}
