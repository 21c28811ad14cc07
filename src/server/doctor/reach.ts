/**
 * Network reachability: does a host name resolve, does its port accept a TCP
 * connection, does a Redis answer PING. Nothing is sent beyond that, so
 * checking a webhook never delivers an event.
 */
import { lookup } from "node:dns/promises";
import { connect } from "node:net";
import { GamedockError, redactUrl } from "../../core/index.js";

const DEFAULT_PORTS: Record<string, number> = {
  "http:": 80,
  "https:": 443,
  "redis:": 6379,
  "rediss:": 6379,
  "amqp:": 5672,
  "amqps:": 5671,
  "mysql:": 3306,
  "postgres:": 5432,
  "postgresql:": 5432,
};

export interface Endpoint {
  host: string;
  port: number;
}

/** The host and port a URL connects to; null when it names none (a Unix socket). */
export function endpointOf(url: string): Endpoint | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GamedockError("E_CONFIG", `${redactUrl(url)} is not a valid URL`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") return null;
  const port = parsed.port === "" ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  return port === undefined ? null : { host, port };
}

/**
 * Resolves `host` and opens (then closes) a TCP connection to it. Throws an
 * Error saying which step failed: the name does not resolve, the port refuses,
 * or nothing answered in `timeoutMs`.
 */
export async function reachTcp({ host, port }: Endpoint, timeoutMs: number): Promise<string> {
  let address: string;
  try {
    address = (await lookup(host)).address;
  } catch (err) {
    throw new Error(`the host name ${host} does not resolve (${(err as Error).message})`);
  }
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: address, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`nothing answered at ${host}:${port} within ${timeoutMs / 1000} s`));
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", (err: Error & { code?: string }) => {
      socket.destroy();
      const why = err.code === "ECONNREFUSED" ? "connection refused" : err.message;
      reject(new Error(`cannot connect to ${host}:${port}: ${why}`));
    });
  });
  return address === host ? `${host}:${port}` : `${host}:${port} (${address})`;
}

/** Connects to Redis at `url` and sends PING; throws with Redis's or the socket's reason. */
export async function pingRedis(url: string, timeoutMs: number): Promise<void> {
  const { Redis } = await import("ioredis");
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // ioredis otherwise waits 2 s on a socket that already failed.
    disconnectTimeout: 200,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: Error | undefined;
  client.on("error", (err: Error) => {
    lastError = err;
  });
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== "PONG") throw new Error(`Redis answered PING with ${JSON.stringify(answer)}`);
  } catch (err) {
    throw lastError && !(err instanceof Error && /NOAUTH|WRONGPASS/.test(err.message))
      ? lastError
      : err;
  } finally {
    client.disconnect();
  }
}
