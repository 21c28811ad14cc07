/**
 * Errors the drivers raise about their configuration and their servers. A URL
 * appears in messages and logs without its password.
 */
import { GamedockError, asError } from "../core/index.js";
import { redactUrl } from "../core/index.js";

export { redactUrl };

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

export function configError(message: string): GamedockError {
  return new GamedockError("E_CONFIG", message);
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
