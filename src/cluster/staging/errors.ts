/**
 * The staging cache's failures, worded once: what is wrong with which input,
 * with the numbers a user needs to fix it (both sizes for a cache that is too
 * small, both digests for bytes that do not match).
 */
import { GamedockError, asError, isGamedockError } from "../../core/index.js";
import type { InputRef } from "./contract.js";

export function inputTooLarge(ref: InputRef, maxBytes: number): GamedockError {
  return new GamedockError(
    "E_CACHE_TOO_SMALL",
    `input ${ref.sha256} is ${ref.size} bytes but the staging cache holds at most ${maxBytes} bytes; ` +
      `raise the executor's --cache-max`,
    { sha256: ref.sha256, size: ref.size, maxBytes },
  );
}

export function inputsTooLarge(count: number, total: number, maxBytes: number): GamedockError {
  return new GamedockError(
    "E_CACHE_TOO_SMALL",
    `the ${count} inputs need ${total} bytes together but the staging cache holds at most ` +
      `${maxBytes} bytes; raise the executor's --cache-max`,
    { inputs: count, size: total, maxBytes },
  );
}

export function digestMismatch(
  ref: InputRef,
  got: { size: number; sha256?: string; more?: boolean },
  where: string,
): GamedockError {
  const what = got.more
    ? `at least ${got.size} bytes`
    : got.sha256 === undefined
      ? `${got.size} bytes`
      : `${got.size} bytes with sha256 ${got.sha256}`;
  return new GamedockError(
    "E_INPUT_DIGEST_MISMATCH",
    `input ${ref.sha256} (${ref.size} bytes) from ${where}: received ${what}; ` +
      `the bytes were deleted and not cached`,
    { sha256: ref.sha256, size: ref.size, receivedSize: got.size, receivedSha256: got.sha256 },
  );
}

/** The source announces (Content-Length, Content-Range) a file of another size: nothing is taken. */
export function servedSizeMismatch(ref: InputRef, served: number, where: string): GamedockError {
  return new GamedockError(
    "E_INPUT_DIGEST_MISMATCH",
    `input ${ref.sha256} is said to be ${ref.size} bytes, but ${where} serves ${served} bytes ` +
      `under that sha256; nothing was cached`,
    { sha256: ref.sha256, size: ref.size, receivedSize: served },
  );
}

/** A body that ends before the input's size: a dropped connection, so the download resumes. */
export function sourceEndedEarly(ref: InputRef, offset: number): GamedockError {
  return new GamedockError(
    "E_SERVICE_UNAVAILABLE",
    `the input source ended input ${ref.sha256} after ${offset} of ${ref.size} bytes`,
    { sha256: ref.sha256, size: ref.size, offset },
    { retryable: true },
  );
}

/** A cached file whose verified size differs from the size an acquire names. */
export function sizeMismatch(ref: InputRef, cachedSize: number): GamedockError {
  return new GamedockError(
    "E_INPUT_DIGEST_MISMATCH",
    `input ${ref.sha256} is said to be ${ref.size} bytes, but the content with this sha256 ` +
      `is ${cachedSize} bytes; fix the input's size`,
    { sha256: ref.sha256, size: ref.size, receivedSize: cachedSize },
  );
}

export function badInput(message: string, details: Record<string, unknown>): GamedockError {
  return new GamedockError("E_INVALID_REQUEST", message, details);
}

export function cacheClosed(dir: string): GamedockError {
  return new GamedockError(
    "E_SERVICE_UNAVAILABLE",
    `the staging cache ${dir} was closed`,
    { dir },
    { retryable: true },
  );
}

/**
 * Why an acquire stops when its signal aborts: the caller's own reason, except
 * that a plain timeout (AbortSignal.timeout) becomes E_STAGING_TIMEOUT.
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (isGamedockError(reason)) return reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new GamedockError(
      "E_STAGING_TIMEOUT",
      "the task's inputs were not staged in time; a later attempt resumes the downloads",
    );
  }
  return asError(reason);
}

/** Retrying helps only when the source did not answer or dropped the connection. */
export function isSourceUnavailable(err: unknown): err is GamedockError {
  return isGamedockError(err) && err.code === "E_SERVICE_UNAVAILABLE" && err.retryable;
}
