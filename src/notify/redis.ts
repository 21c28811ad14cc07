/**
 * Redis sink: LPUSHes the event JSON onto a list, the way the seed's game
 * server already consumed packaging results (BRPOP / RPOP on its side gives
 * oldest-first order). The event's `id` is in the JSON for the consumer's dedupe.
 *
 * The client connects on first send and fails fast when Redis is down (short
 * connect and command timeouts, one retry per command), so a dead Redis costs a
 * send well under the caller's budget and the caller's queue retries later.
 * ioredis keeps reconnecting in the background, so the sink heals by itself.
 */
import { Redis } from "ioredis";
import { GamedockError } from "../core/index.js";
import type { NotifyEvent, Sink, SinkConfig } from "./contract.js";

export type RedisSinkConfig = Extract<SinkConfig, { type: "redis" }>;

const CONNECT_TIMEOUT_MS = 2000;
const COMMAND_TIMEOUT_MS = 3000;
/**
 * ioredis waits this long for a socket to close after disconnect() — even one
 * that already failed, which would hold the process open for its 2 s default.
 */
const DISCONNECT_TIMEOUT_MS = 200;

/** Replies that no retry can fix until someone changes the config or the key. */
const PERMANENT_REPLIES = ["WRONGTYPE", "NOAUTH", "WRONGPASS", "NOPERM"];

/** redis://host:port/db without the password (or user) and query. */
export function redisUrlForMessages(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

export function createRedisSink(name: string, config: RedisSinkConfig): Sink {
  const where = redisUrlForMessages(config.url);
  const client = new Redis(config.url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  });
  // Without a listener ioredis prints every connection error; keep the last for messages.
  let lastError: Error | undefined;
  client.on("error", (err: Error) => {
    lastError = err;
  });

  return {
    name,
    async send(event: NotifyEvent): Promise<void> {
      try {
        await client.lpush(config.list, JSON.stringify(event));
      } catch (err) {
        throw toNotifyError(name, where, config.list, err, lastError);
      }
    },
    async close(): Promise<void> {
      if (client.status === "ready") {
        try {
          await client.quit();
          return;
        } catch {
          // The connection is going away anyway; disconnect below.
        }
      }
      client.disconnect();
    },
  };
}

function toNotifyError(
  sink: string,
  where: string,
  list: string,
  err: unknown,
  lastConnectionError: Error | undefined,
): GamedockError {
  const message = err instanceof Error ? err.message : String(err);
  const permanent =
    err instanceof Error &&
    err.name === "ReplyError" &&
    PERMANENT_REPLIES.some((prefix) => message.startsWith(prefix));
  if (permanent) {
    return new GamedockError(
      "E_NOTIFY_PERMANENT",
      `notification sink "${sink}": ${where} refused LPUSH to list "${list}" (${message}); ` +
        `retrying will not help — fix the sink's config or the key`,
      { sink },
    );
  }
  // "max retries per request" hides the cause; the connection error says what to fix.
  const cause =
    err instanceof Error && err.name === "MaxRetriesPerRequestError" && lastConnectionError
      ? lastConnectionError.message
      : message;
  return new GamedockError(
    "E_NOTIFY_FAILED",
    `notification sink "${sink}" could not LPUSH to list "${list}" at ${where}: ${cause}`,
    { sink },
  );
}
