/**
 * @tus/server reports protocol errors as plain `{status_code, body}` objects
 * (its ERRORS table) and turns anything else into a 500. Here both become the
 * service's JSON error `{error: {code, message}}` with a stable code.
 */
import { ERRORS } from "@tus/server";
import { GamedockError, isGamedockError, type ErrorCode } from "../../core/index.js";

export interface TusError {
  status_code: number;
  body: string;
}

export function isTusError(err: unknown): err is TusError {
  return (
    typeof err === "object" &&
    err !== null &&
    typeof (err as { status_code?: unknown }).status_code === "number" &&
    typeof (err as { body?: unknown }).body === "string"
  );
}

/** The upload is not there (404) or no longer there (410). */
export function isNotFound(err: unknown): boolean {
  return isTusError(err) && (err.status_code === 404 || err.status_code === 410);
}

/** Clearer words for the tus errors a client can cause. */
const MESSAGES = new Map<TusError, [ErrorCode, string]>([
  [ERRORS.FILE_NOT_FOUND, ["E_NOT_FOUND", "no tus upload at this URL"]],
  [
    ERRORS.FILE_NO_LONGER_EXISTS,
    ["E_NOT_FOUND", "this upload has expired (files.uploadTtlSeconds); start a new one"],
  ],
  [
    ERRORS.INVALID_OFFSET,
    [
      "E_UPLOAD_OFFSET",
      "Upload-Offset does not match the bytes received so far; send HEAD to learn the offset and resume from there",
    ],
  ],
  [ERRORS.MISSING_OFFSET, ["E_INVALID_REQUEST", "PATCH needs an Upload-Offset header"]],
  [
    ERRORS.ERR_SIZE_EXCEEDED,
    ["E_TOO_LARGE", "the body goes past the Upload-Length declared for this upload"],
  ],
  [
    ERRORS.ERR_MAX_SIZE_EXCEEDED,
    ["E_TOO_LARGE", "the upload is larger than this server accepts (files.maxUploadBytes)"],
  ],
  [
    ERRORS.INVALID_TERMINATION,
    [
      "E_INVALID_REQUEST",
      "this upload is finished and is a file now: delete it with DELETE /files/:id without the Tus-Resumable header",
    ],
  ],
  [
    ERRORS.ERR_LOCK_TIMEOUT,
    ["E_SERVICE_UNAVAILABLE", "another request holds this upload; retry shortly"],
  ],
]);

const BY_STATUS: Record<number, ErrorCode> = {
  404: "E_NOT_FOUND",
  409: "E_UPLOAD_OFFSET",
  410: "E_NOT_FOUND",
  413: "E_TOO_LARGE",
  415: "E_CONTENT_TYPE",
  460: "E_CHECKSUM",
};

export interface MappedError {
  status: number;
  body: string;
}

export function errorBody(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
): string {
  return JSON.stringify({ error: details ? { code, message, details } : { code, message } });
}

/** null: an unexpected failure (the caller logs it and answers 500). */
export function mapTusError(err: unknown): MappedError | null {
  if (isGamedockError(err)) {
    return { status: err.httpStatus, body: JSON.stringify({ error: err.toJSON() }) };
  }
  if (!isTusError(err)) return null;
  const known = MESSAGES.get(err);
  const status = known?.[0] === "E_SERVICE_UNAVAILABLE" ? 503 : err.status_code;
  if (status >= 500 && !known) return null;
  const code = known?.[0] ?? BY_STATUS[status] ?? "E_INVALID_REQUEST";
  return {
    status: status === 403 ? 400 : status,
    body: errorBody(code, known?.[1] ?? err.body.trim()),
  };
}

export function internalError(): MappedError {
  const error = new GamedockError("E_INTERNAL", "the upload failed on the server; see its log");
  return { status: 500, body: JSON.stringify({ error: error.toJSON() }) };
}

/** Throws one of @tus/server's ERRORS, which it recognises by shape, not as Error instances. */
export function throwTus(error: TusError): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- tus protocol errors are plain objects
  throw error;
}
