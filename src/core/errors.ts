/**
 * One error class for the whole product, and one registry of codes.
 * A code fixes the CLI exit code and the HTTP status, so every surface reports
 * the same failure the same way. Messages name the input that is wrong.
 */

/** CLI exit codes (DESIGN.md): 0 ok, 1 unexpected, 2 usage, 3 bad input, 4 not found. */
export const EXIT = { ok: 0, unexpected: 1, usage: 2, badInput: 3, notFound: 4 } as const;

interface CodeSpec {
  exit: number;
  http: number;
  summary: string;
  /**
   * Whether trying the same work again may succeed (a service that did not
   * answer, a full disk) — absent means no: bad input fails the same way every
   * time. A GamedockError can override it for one failure.
   */
  retryable?: boolean;
}

export const ERROR_CODES = {
  // An unknown failure (EIO, a dropped connection, a bug that may not repeat) gets another try.
  E_INTERNAL: { exit: EXIT.unexpected, http: 500, summary: "unexpected failure", retryable: true },
  E_USAGE: { exit: EXIT.usage, http: 400, summary: "bad command-line usage" },
  E_CONFIG: { exit: EXIT.usage, http: 500, summary: "invalid configuration" },
  E_NOT_FOUND: { exit: EXIT.notFound, http: 404, summary: "file or object not found" },
  E_NOT_A_FILE: { exit: EXIT.badInput, http: 400, summary: "path is not a regular file" },
  E_NO_PERMISSION: { exit: EXIT.badInput, http: 403, summary: "permission denied" },
  E_NOT_ZIP: { exit: EXIT.badInput, http: 400, summary: "not a zip archive" },
  E_TRUNCATED: { exit: EXIT.badInput, http: 400, summary: "archive is truncated or corrupt" },
  E_ZIP64: { exit: EXIT.badInput, http: 400, summary: "zip64 archives are not supported" },
  E_ZIP_ENTRY: { exit: EXIT.badInput, http: 400, summary: "zip entry cannot be read" },
  E_NO_MANIFEST: { exit: EXIT.badInput, http: 400, summary: "AndroidManifest.xml missing" },
  E_BAD_MANIFEST: { exit: EXIT.badInput, http: 400, summary: "binary XML cannot be parsed" },
  E_BAD_RESOURCES: { exit: EXIT.badInput, http: 400, summary: "resources.arsc cannot be parsed" },
  E_BAD_SIGNING_BLOCK: { exit: EXIT.badInput, http: 400, summary: "APK Signing Block corrupt" },
  E_UNSIGNED: { exit: EXIT.badInput, http: 400, summary: "APK is not signed" },
  E_CHANNEL_INVALID: { exit: EXIT.badInput, http: 400, summary: "invalid channel id" },
  E_CHANNEL_DUPLICATE: { exit: EXIT.badInput, http: 400, summary: "duplicate channel id" },
  E_CHANNEL_FILE: { exit: EXIT.badInput, http: 400, summary: "channels file cannot be used" },
  E_EXTRA_INVALID: { exit: EXIT.badInput, http: 400, summary: "invalid key=value extra" },
  E_TEMPLATE_FIELD: { exit: EXIT.badInput, http: 400, summary: "unknown name-template field" },
  E_OUTPUT_NAME: { exit: EXIT.badInput, http: 400, summary: "invalid or colliding output name" },
  E_OUTPUT_DIR: { exit: EXIT.badInput, http: 400, summary: "output directory not writable" },
  E_OUTPUT_EXISTS: {
    exit: EXIT.badInput,
    http: 409,
    summary: "output exists with another channel",
  },
  E_DISK_FULL: {
    exit: EXIT.badInput,
    http: 507,
    summary: "no space left on device",
    retryable: true,
  },
  E_INVALID_REQUEST: { exit: EXIT.badInput, http: 400, summary: "request field is invalid" },
  E_PATH_OUTSIDE_ROOT: {
    exit: EXIT.badInput,
    http: 400,
    summary: "path resolves outside its allowed root",
  },
  E_UNAUTHORIZED: { exit: EXIT.usage, http: 401, summary: "missing or wrong API token" },
  E_JOB_NOT_FOUND: { exit: EXIT.notFound, http: 404, summary: "no such pack job" },
  E_CANCELLED: { exit: EXIT.badInput, http: 409, summary: "cancelled before it started" },
  E_JOB_STATE: { exit: EXIT.badInput, http: 409, summary: "job cannot do that in its state" },
  E_BLOB_KEY: { exit: EXIT.badInput, http: 400, summary: "invalid object key" },
  E_UPLOAD_FAILED: {
    exit: EXIT.unexpected,
    http: 502,
    summary: "upload to the target failed",
    retryable: true,
  },
  E_NOTIFY_FAILED: {
    exit: EXIT.unexpected,
    http: 502,
    summary: "notification not delivered",
    retryable: true,
  },
  E_NOTIFY_PERMANENT: {
    exit: EXIT.badInput,
    http: 502,
    summary: "notification rejected by the receiver",
  },
  E_TOO_LARGE: { exit: EXIT.badInput, http: 413, summary: "upload larger than the limit" },
  E_QUOTA: { exit: EXIT.badInput, http: 413, summary: "upload would pass the token's quota" },
  E_UPLOAD_OFFSET: { exit: EXIT.badInput, http: 409, summary: "Upload-Offset does not match" },
  E_UPLOAD_EXPIRED: { exit: EXIT.notFound, http: 410, summary: "resumable upload has expired" },
  E_TUS_VERSION: {
    exit: EXIT.badInput,
    http: 412,
    summary: "tus request without Tus-Resumable: 1.0.0",
  },
  E_CONTENT_TYPE: { exit: EXIT.badInput, http: 415, summary: "unsupported content type" },
  E_CHECKSUM: { exit: EXIT.badInput, http: 460, summary: "checksum mismatch" },
  E_RANGE: { exit: EXIT.badInput, http: 416, summary: "range not satisfiable" },
  E_FILE_NAME: { exit: EXIT.badInput, http: 400, summary: "invalid file name" },
  E_SIGNATURE: { exit: EXIT.badInput, http: 403, summary: "signed URL invalid or expired" },
  E_SERVICE_UNAVAILABLE: {
    exit: EXIT.unexpected,
    http: 503,
    summary: "a backing service (Redis, RabbitMQ, database, store) does not answer",
    retryable: true,
  },
  E_PATH_INVALID: {
    exit: EXIT.badInput,
    http: 400,
    summary: "path cannot be resolved (symlink loop, name too long, not a directory)",
  },
  E_ADDRESS_IN_USE: {
    exit: EXIT.usage,
    http: 500,
    summary: "the listen address is in use by another process",
  },
  E_REQUEST_TOO_LARGE: { exit: EXIT.badInput, http: 413, summary: "request body too large" },
  E_HEADERS_TOO_LARGE: {
    exit: EXIT.badInput,
    http: 431,
    summary: "request headers too large",
  },
  E_REQUEST_TIMEOUT: {
    exit: EXIT.badInput,
    http: 408,
    summary: "the request was not received in time",
  },
  E_JSON_DUPLICATE_KEY: {
    exit: EXIT.badInput,
    http: 400,
    summary: "JSON object with a duplicate key",
  },
  E_CHANNELS_LIMIT: { exit: EXIT.badInput, http: 400, summary: "too many channels in one job" },
  E_EXTRAS_LIMIT: {
    exit: EXIT.badInput,
    http: 400,
    summary: "too many extras, or extras too large",
  },
  E_KEY_RESERVED: {
    exit: EXIT.badInput,
    http: 400,
    summary: "object key in an area gamedock reserves",
  },
  E_ATTEMPTS_EXHAUSTED: {
    exit: EXIT.unexpected,
    http: 500,
    summary: "work started too many times without finishing",
  },
  E_SUBSCRIBERS_LIMIT: {
    exit: EXIT.unexpected,
    http: 503,
    summary: "too many event-stream subscribers",
    retryable: true,
  },
  // Task cluster (docs/cluster.md): a task's failure carries one of these.
  E_TASK_NOT_FOUND: { exit: EXIT.notFound, http: 404, summary: "no such task" },
  E_TASK_STATE: { exit: EXIT.badInput, http: 409, summary: "task cannot do that in its state" },
  E_EXECUTOR_NOT_FOUND: { exit: EXIT.notFound, http: 404, summary: "no such executor" },
  E_TOOL_UNKNOWN: {
    exit: EXIT.badInput,
    http: 400,
    summary: "no executor of the pool offers the tool",
  },
  E_INPUT_NOT_FOUND: { exit: EXIT.badInput, http: 400, summary: "an input's digest is not stored" },
  E_INPUT_DIGEST_MISMATCH: {
    exit: EXIT.unexpected,
    http: 502,
    summary: "an input's bytes do not match its sha256 or size",
  },
  E_CACHE_TOO_SMALL: {
    exit: EXIT.badInput,
    http: 507,
    summary: "the task's inputs do not fit in the executor's staging cache",
  },
  E_TASK_NOT_ASSIGNED: {
    exit: EXIT.unexpected,
    http: 504,
    summary: "no executor took the task within assignMs",
  },
  E_STAGING_TIMEOUT: {
    exit: EXIT.unexpected,
    http: 504,
    summary: "the task's inputs were not staged within stagingMs",
    retryable: true,
  },
  E_TASK_TIMEOUT: { exit: EXIT.unexpected, http: 504, summary: "the tool ran longer than runMs" },
  E_EXIT_NONZERO: {
    exit: EXIT.unexpected,
    http: 500,
    summary: "the tool exited with a non-zero code",
  },
  E_EXECUTOR_LOST: {
    exit: EXIT.unexpected,
    http: 503,
    summary: "the executor running the task stopped answering",
    retryable: true,
  },
  E_OUTPUT_MISSING: {
    exit: EXIT.unexpected,
    http: 500,
    summary: "an output the task names was not produced",
  },
  E_OUTPUT_INVALID: {
    exit: EXIT.unexpected,
    http: 500,
    summary: "an output is not a regular file inside the sandbox",
  },
  E_LIMIT: { exit: EXIT.badInput, http: 400, summary: "a task limit was exceeded" },
  E_TOKEN_INVALID: {
    exit: EXIT.usage,
    http: 401,
    summary: "realtime token missing, invalid or expired",
  },
  E_FRAME_INVALID: { exit: EXIT.badInput, http: 400, summary: "malformed realtime frame" },
  E_RATE_LIMITED: {
    exit: EXIT.badInput,
    http: 429,
    summary: "too many realtime messages per second",
    retryable: true,
  },
  E_DRAINING: {
    exit: EXIT.unexpected,
    http: 503,
    summary: "the realtime gateway is shutting down: send again once reconnected",
    retryable: true,
  },
  E_UNKNOWN_MSG: { exit: EXIT.badInput, http: 404, summary: "no handler for this msgId" },
  E_HANDLER: { exit: EXIT.unexpected, http: 500, summary: "the message handler failed" },
  E_TIMEOUT: {
    exit: EXIT.unexpected,
    http: 504,
    summary: "the message handler ran past its time limit",
    retryable: true,
  },
  // Match guessing (docs/guess.md).
  E_BETTING_CLOSED: {
    exit: EXIT.badInput,
    http: 409,
    summary: "the match takes no bets now",
  },
  E_ODDS_CHANGED: {
    exit: EXIT.badInput,
    http: 409,
    summary: "the odds changed since the user saw them",
  },
  E_BET_LIMIT: { exit: EXIT.badInput, http: 409, summary: "the stake is outside the limits" },
  E_MATCH_STATE: { exit: EXIT.badInput, http: 409, summary: "match cannot do that in its state" },
  E_INSUFFICIENT_FUNDS: {
    exit: EXIT.badInput,
    http: 409,
    summary: "the wallet's balance is too low",
  },
  E_LEDGER_MISMATCH: {
    exit: EXIT.unexpected,
    http: 500,
    summary: "a wallet balance differs from the sum of its ledger",
  },
  // Chat (docs/chat.md).
  E_NOT_MEMBER: { exit: EXIT.badInput, http: 403, summary: "not a member of the conversation" },
  E_MESSAGE_TOO_LARGE: {
    exit: EXIT.badInput,
    http: 413,
    summary: "a chat message is larger than the limits",
  },
  E_GROUP_FULL: { exit: EXIT.badInput, http: 409, summary: "the group has its most members" },
  E_RECALL_EXPIRED: {
    exit: EXIT.badInput,
    http: 409,
    summary: "the message is older than the recall window",
  },
  E_FILE_NOT_SHARED: {
    exit: EXIT.badInput,
    http: 403,
    summary: "the file is not the sender's to share in the conversation",
  },
  // Payment callbacks (src/guess/pay-notify.ts): a forged, mangled or stale one credits nothing.
  E_PAY_SIGNATURE: {
    exit: EXIT.badInput,
    http: 401,
    summary: "payment notification not verifiably from the provider, or not for us",
  },
  E_PAY_REPLAY: {
    exit: EXIT.badInput,
    http: 401,
    summary: "payment notification sent outside the replay window",
  },
  // Top-up orders (src/guess/orders.ts): a verified payment that does not fit its order credits nothing.
  E_PAY_AMOUNT_MISMATCH: {
    exit: EXIT.badInput,
    http: 409,
    summary: "the payment's amount or currency differs from its order's",
  },
  E_PAY_CONFLICT: {
    exit: EXIT.badInput,
    http: 409,
    summary: "the order was paid by another transaction, or the transaction paid another order",
  },
  E_PAY_NOT_CONFIGURED: {
    exit: EXIT.usage,
    http: 503,
    summary: "this server takes no payments through that provider",
  },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GamedockErrorOptions {
  /** Overrides the code's `retryable` for this one failure. */
  retryable?: boolean;
  cause?: unknown;
}

export class GamedockError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly #retryable: boolean | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options: GamedockErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GamedockError";
    this.code = code;
    this.details = details;
    this.#retryable = options.retryable;
  }

  /** Whether the same work may succeed if tried again (registry default, or this error's override). */
  get retryable(): boolean {
    return this.#retryable ?? (ERROR_CODES[this.code] as CodeSpec).retryable ?? false;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function isGamedockError(err: unknown): err is GamedockError {
  return err instanceof GamedockError;
}

/** Node's system errors carry a string `code` such as ENOENT or ENOSPC. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = err.code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/**
 * Turns a file-system error about `path` into a GamedockError whose message says
 * what the user has to fix. Unknown errors pass through unchanged.
 */
export function fsError(err: unknown, path: string, what: string): unknown {
  switch (errnoCode(err)) {
    case "ENOENT":
      return new GamedockError("E_NOT_FOUND", `${what} not found: ${path}`, { path });
    case "EACCES":
    case "EPERM":
      return new GamedockError("E_NO_PERMISSION", `${what} is not accessible: ${path}`, { path });
    case "EISDIR":
      return new GamedockError("E_NOT_A_FILE", `${what} is a directory, not a file: ${path}`, {
        path,
      });
    case "ENOTDIR":
      return new GamedockError(
        "E_NOT_FOUND",
        `${what} not found: ${path} (a part of the path is a file, not a directory)`,
        { path },
      );
    case "ELOOP":
      return new GamedockError(
        "E_PATH_INVALID",
        `${what} cannot be resolved: ${path} (too many symbolic links, or a loop)`,
        { path },
      );
    case "ENAMETOOLONG":
      return new GamedockError(
        "E_PATH_INVALID",
        `${what} has a name longer than the file system allows: ${path}`,
        { path },
      );
    case "ENOSPC":
    case "EDQUOT":
      return new GamedockError(
        "E_DISK_FULL",
        `no space left on device while writing ${what}: ${path}; free space or choose another output directory`,
        { path },
      );
    default:
      return err;
  }
}

/** For rethrowing a caught value that may not be an Error. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === "string" ? err : JSON.stringify(err));
}
