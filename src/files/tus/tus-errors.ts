/**
 * @tus/server reports protocol errors as plain `{status_code, body}` objects
 * (its ERRORS table), answers some requests itself with a text body (412
 * without Tus-Resumable, 400 for a malformed header) and turns anything else
 * into a 500. Here each becomes a GamedockError with a stable code, which
 * core's errorAnswer turns into the service's JSON error like any other.
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
    ["E_UPLOAD_EXPIRED", "this upload has expired (files.uploadTtlSeconds); start a new one"],
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
  400: "E_INVALID_REQUEST",
  403: "E_INVALID_REQUEST",
  404: "E_NOT_FOUND",
  409: "E_UPLOAD_OFFSET",
  410: "E_UPLOAD_EXPIRED",
  412: "E_TUS_VERSION",
  413: "E_TOO_LARGE",
  415: "E_CONTENT_TYPE",
  460: "E_CHECKSUM",
};

/** Clearer words for what @tus/server writes itself, by the start of its text. */
function describe(status: number, text: string): string {
  if (status === 412) {
    return "this is a tus 1.0 request: send the header Tus-Resumable: 1.0.0 (see docs/files-tus.md)";
  }
  const invalid = /^Invalid (.+)$/.exec(text);
  if (status === 400 && invalid?.[1]) {
    const names = invalid[1].split(" ").map((name) => name.toLowerCase());
    return `the tus header${names.length > 1 ? "s" : ""} ${names.join(", ")} ${names.length > 1 ? "have" : "has an"} invalid value${names.length > 1 ? "s" : ""} (see docs/files-tus.md)`;
  }
  return text;
}

/**
 * The GamedockError for what @tus/server reports: a thrown error, or the
 * status and text of an answer it wrote itself. null: an unexpected failure
 * (the caller logs it and answers E_INTERNAL).
 */
export function mapTusError(err: unknown): GamedockError | null {
  if (isGamedockError(err)) return err;
  if (!isTusError(err)) return null;
  const known = MESSAGES.get(err);
  if (known) return new GamedockError(known[0], known[1]);
  const code = BY_STATUS[err.status_code];
  if (!code)
    return err.status_code >= 500 ? null : new GamedockError("E_INVALID_REQUEST", err.body.trim());
  return new GamedockError(code, describe(err.status_code, err.body.trim()));
}

/** Throws one of @tus/server's ERRORS, which it recognises by shape, not as Error instances. */
export function throwTus(error: TusError): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- tus protocol errors are plain objects
  throw error;
}
