/**
 * What a failed attempt becomes. Permanent failures (the error registry says
 * the code is not retryable — bad input — or the error itself says so) fail the channel at
 * once; transient ones (I/O, network, 5xx, a store or service that does not
 * answer) are retried with exponential backoff until `maxAttempts`, then the
 * channel fails and its message goes to the dead letters.
 */
import { errnoCode, isGamedockError } from "../core/index.js";
import type { TaskError } from "./store/index.js";

export interface ClassifiedError extends TaskError {
  permanent: boolean;
}

export function classify(err: unknown): ClassifiedError {
  if (isGamedockError(err)) {
    return { code: err.code, message: err.message, permanent: !err.retryable };
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
