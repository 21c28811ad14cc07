/**
 * Errors about the servers gamedock talks to (Redis, RabbitMQ, …), shared by
 * the drivers of every building block. A URL appears in messages and logs
 * without its password.
 */
import { GamedockError, asError } from "./errors.js";
import { redactUrl } from "./redact-url.js";

export function serviceUnavailable(service: string, url: string, cause: unknown): GamedockError {
  const safeUrl = redactUrl(url);
  // Some client errors quote the URL they were given; never pass a password on.
  const reason = asError(cause).message.split(url).join(safeUrl);
  return new GamedockError(
    "E_SERVICE_UNAVAILABLE",
    `${service} at ${safeUrl} does not answer: ${reason}`,
    { url: safeUrl },
  );
}

/** Rejects after `ms` unless `promise` settles first; the timer never outlives it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
