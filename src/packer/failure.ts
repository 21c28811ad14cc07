/**
 * What a failed attempt becomes. Permanent failures (bad input: the code's
 * HTTP status is 4xx, or a driver said `retryable: false`) fail the channel at
 * once; transient ones (I/O, network, 5xx, a store or service that does not
 * answer) are retried with exponential backoff until `maxAttempts`, then the
 * channel fails and its message goes to the dead letters.
 */
import { ERROR_CODES, errnoCode, isGamedockError } from "../core/index.js";
import type { TaskError } from "./store.js";

export interface ClassifiedError extends TaskError {
  permanent: boolean;
}

export function classify(err: unknown): ClassifiedError {
  if (isGamedockError(err)) {
    const retryable = err.details?.retryable;
    const status = ERROR_CODES[err.code].http;
    const permanent =
      typeof retryable === "boolean"
        ? !retryable
        : err.code !== "E_DISK_FULL" && status >= 400 && status < 500;
    return { code: err.code, message: err.message, permanent };
  }
  const errno = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (errno === "ENOENT" || errno === "EACCES" || errno === "EPERM") {
    return {
      code: errno === "ENOENT" ? "E_NOT_FOUND" : "E_NO_PERMISSION",
      message,
      permanent: true,
    };
  }
  // Anything else (EIO, a dropped connection, a bug that may not repeat) gets another try.
  return {
    code: "E_INTERNAL",
    message: errno ? `${errno}: ${message}` : message,
    permanent: false,
  };
}
