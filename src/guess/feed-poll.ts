/**
 * The feed fetched from a URL (`guess.feedUrl`, design note 003's
 * `datacenter` pulling new matches): one GET with a deadline and a size
 * cap, parsed as strictly as a client's JSON, validated as the import route
 * validates a posted feed. Any failure is reported, never half-imported: the
 * import runs only on a whole, valid feed.
 */
import { GamedockError, parseClientJson } from "../core/index.js";
import { parseFeed, type Feed } from "./feed.js";

/** A feed of 500 matches with 16 options each stays far below this. */
export const MAX_FEED_BYTES = 8 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 10_000;

export async function fetchFeed(url: string): Promise<Feed> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      redirect: "error",
    });
  } catch (err) {
    throw new GamedockError(
      "E_SERVICE_UNAVAILABLE",
      `feed ${url} did not answer: ${(err as Error).message}`,
      { url },
      { cause: err },
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new GamedockError(
      "E_SERVICE_UNAVAILABLE",
      `feed ${url} answered HTTP ${response.status}`,
      {
        url,
        status: response.status,
      },
    );
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of response.body ?? []) {
    bytes += (chunk as Uint8Array).length;
    if (bytes > MAX_FEED_BYTES) {
      // Leaving the loop cancels the body: the rest is never read.
      throw new GamedockError(
        "E_REQUEST_TOO_LARGE",
        `feed ${url} is larger than ${MAX_FEED_BYTES} bytes`,
        { url },
      );
    }
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return parseFeed(parseClientJson(Buffer.concat(chunks).toString("utf8")));
}
