/**
 * Gateway URLs. Each one is either the WebSocket endpoint itself
 * (`ws://host:8080/ws`, `wss://…/ws`) or the server's HTTP base
 * (`http://host:8080`, `https://games.example/rt`, or in a browser a path
 * such as `/` on the page's origin), to which `/ws` is added — so the URL an
 * application already has for the HTTP API works here too.
 */
import { CLIENT_ERRORS, GamedockClientError } from "./errors.js";
import type { ResumePoints } from "./resume.js";

/** The page's address in a browser (relative URLs resolve against it); undefined in Node. */
function pageHref(): string | undefined {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  return typeof location?.href === "string" ? location.href : undefined;
}

/** The WebSocket URL for one configured URL; throws E_CLIENT_INVALID for what cannot be one. */
export function gatewayUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input, pageHref());
  } catch {
    throw new GamedockClientError(
      CLIENT_ERRORS.invalid,
      `not a gateway URL: ${JSON.stringify(input)} (give ws://host:port/ws or http://host:port)`,
    );
  }
  if (url.protocol === "http:" || url.protocol === "https:") {
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (!url.pathname.endsWith("/ws")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/ws`;
  } else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new GamedockClientError(
      CLIENT_ERRORS.invalid,
      `a gateway URL is ws:, wss:, http: or https:, not ${url.protocol} (${JSON.stringify(input)})`,
    );
  }
  url.hash = "";
  return url.href;
}

export function gatewayUrls(input: string | readonly string[]): string[] {
  const list = typeof input === "string" ? [input] : [...input];
  if (list.length === 0) {
    throw new GamedockClientError(CLIENT_ERRORS.invalid, "connect() needs at least one URL");
  }
  return list.map(gatewayUrl);
}

/**
 * The URL one attempt opens: the token in `?token=` (browsers cannot set an
 * Authorization header on a WebSocket) and the resume positions.
 */
export function connectionUrl(gateway: string, token: string, points: ResumePoints): string {
  const url = new URL(gateway);
  url.searchParams.set("token", token);
  points.addTo(url.searchParams);
  return url.href;
}
