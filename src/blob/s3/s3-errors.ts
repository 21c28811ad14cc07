/**
 * Turns what the S3 SDK throws into GamedockErrors that say what failed where,
 * and whether trying again can help (GamedockError's `retryable`), so the packer's
 * retry queue knows whether to retry or to tell a human.
 *
 * - The endpoint does not answer (refused, no DNS, unreachable, connect
 *   timeout): E_SERVICE_UNAVAILABLE, retryable.
 * - Transient (5xx, throttling, reset connections, timeouts, a part corrupted
 *   in transit): E_UPLOAD_FAILED retryable for writes, E_SERVICE_UNAVAILABLE for reads.
 * - Permanent (wrong bucket, credentials, permissions, unsupported request):
 *   E_UPLOAD_FAILED not retryable for writes, E_CONFIG / E_INTERNAL for reads.
 * Messages carry the SDK's error name and the server's message; never the secret.
 */
import { GamedockError, errnoCode, isGamedockError } from "../../core/index.js";

export interface S3Where {
  /** Endpoint without any user:password part, safe to print. */
  endpoint: string;
  bucket: string;
}

export type S3Operation = "upload" | "read" | "list" | "delete" | "abort";

type Kind = "unreachable" | "retryable" | "permanent";

const UNREACHABLE_ERRNO = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
]);
const TRANSIENT_ERRNO = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "ESOCKETTIMEDOUT",
]);
const RETRYABLE_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequests",
  "TooManyRequestsException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
  "BadDigest", // the part arrived corrupted: sending it again fixes it
  "IncompleteBody",
  "NoSuchUpload", // the next attempt, given the checkpoint, starts a new upload
]);
/** Answered with 5xx but no retry will change the answer. */
const PERMANENT_NAMES = new Set(["NotImplemented"]);
/** Wrong target settings: the user has to fix the config. */
const CONFIG_NAMES = new Set([
  "NoSuchBucket",
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AllAccessDisabled",
  "AccountProblem",
  "InvalidBucketName",
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "RequestTimeTooSkewed",
]);

interface Failure {
  name: string;
  status: number | undefined;
  errno: string | undefined;
  message: string;
}

function describe(err: unknown): Failure | null {
  if (!(err instanceof Error)) return null;
  const metadata = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  const errno = errnoCode(err);
  // Not from the SDK or the network (a bug, or one of our own errors): leave it alone.
  if (metadata === undefined && errno === undefined && err.name !== "TimeoutError") return null;
  return { name: err.name, status: metadata?.httpStatusCode, errno, message: err.message };
}

function kindOf(failure: Failure): Kind {
  const { name, status, errno, message } = failure;
  if (errno && UNREACHABLE_ERRNO.has(errno)) return "unreachable";
  if (name === "TimeoutError" && /establish/i.test(message)) return "unreachable";
  if (PERMANENT_NAMES.has(name) || status === 501) return "permanent";
  if (RETRYABLE_NAMES.has(name) || (errno && TRANSIENT_ERRNO.has(errno))) return "retryable";
  if (status !== undefined && (status >= 500 || status === 429)) return "retryable";
  // An SDK error without a status is a connection problem (e.g. "socket hang up").
  if (status === undefined) return "retryable";
  return "permanent";
}

const WHAT: Record<S3Operation, string> = {
  upload: "upload of",
  read: "reading",
  list: "listing",
  delete: "deleting",
  abort: "aborting the upload of",
};

/** The error to throw for `err`, raised by `operation` on `key` (or prefix) at `where`. */
export function s3Error(
  err: unknown,
  operation: S3Operation,
  where: S3Where,
  key: string,
): unknown {
  if (isGamedockError(err)) return err;
  const failure = describe(err);
  if (failure === null) return err;
  const kind = kindOf(failure);
  const retryable = kind !== "permanent";
  const status = failure.status === undefined ? "" : ` (HTTP ${failure.status})`;
  const cause = `${failure.name}${status}: ${failure.message}`;
  const place = `s3 bucket ${JSON.stringify(where.bucket)} at ${where.endpoint}`;
  const details = {
    driver: "s3",
    endpoint: where.endpoint,
    bucket: where.bucket,
    key,
    operation,
    error: failure.name,
    status: failure.status,
  };
  if (kind === "unreachable") {
    return new GamedockError(
      "E_SERVICE_UNAVAILABLE",
      `${place} does not answer (${cause}); check the endpoint and the network`,
      details,
    );
  }
  const message = `${WHAT[operation]} ${JSON.stringify(key)} in ${place} failed: ${cause}`;
  if (operation === "upload") {
    return new GamedockError("E_UPLOAD_FAILED", message, details, { retryable });
  }
  if (retryable) return new GamedockError("E_SERVICE_UNAVAILABLE", message, details);
  if (CONFIG_NAMES.has(failure.name)) {
    return new GamedockError(
      "E_CONFIG",
      `${message}; check the target's bucket and credentials`,
      details,
    );
  }
  return new GamedockError("E_INTERNAL", message, details, { retryable: false });
}

/** For the few answers a caller handles itself (absent object, gone upload, unsupported call). */
export function s3ErrorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

export function s3Status(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
