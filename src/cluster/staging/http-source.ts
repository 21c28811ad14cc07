/**
 * Inputs from the file service: GET {baseUrl}/files/by-sha256/<hex>, with
 * `Range: bytes=<offset>-` when a download resumes (docs/files.md). The body
 * is handed over chunk by chunk as it arrives, never gathered.
 *
 * The answer is checked before a byte is taken: a resumed request must come
 * back 206 with `Content-Range: bytes <offset>-<size-1>/<size>`; a 200 is the
 * whole file (the server ignored Range, as RFC 9110 allows), whose first
 * `offset` bytes are skipped here — they are the bytes already on disk, since
 * the content is named by its sha256, and the final hash checks them anyway.
 * A length that differs from the input's size is E_INPUT_DIGEST_MISMATCH at
 * once. 404 is E_INPUT_NOT_FOUND; no connection, a dropped one, an idle one
 * and 5xx are E_SERVICE_UNAVAILABLE (retryable: the cache resumes).
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { GamedockError, asError, errnoCode, redactUrl } from "../../core/index.js";
import type { InputRef, InputSource } from "./contract.js";
import { servedSizeMismatch } from "./errors.js";

export interface HttpInputSourceOptions {
  /** The file service, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`; never logged. */
  token?: string;
  /** A connection that brings no byte for this long is dropped and resumed (default 30 s). */
  idleTimeoutMs?: number;
}

export function httpInputSource(options: HttpInputSourceOptions): InputSource {
  const base = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
  const shown = redactUrl(options.baseUrl);
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  return {
    async open(input, offset, signal) {
      const url = new URL(`files/by-sha256/${input.sha256}`, base);
      const headers: Record<string, string> = { "accept-encoding": "identity" };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (offset > 0) headers.range = `bytes=${offset}-`;
      const response = await get(url, headers, signal, idleTimeoutMs, shown);
      const skip = checkAnswer(response, input, offset, shown);
      return body(response, skip, input, signal, shown);
    },
  };
}

function get(
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
  idleTimeoutMs: number,
  shown: string,
): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, signal, timeout: idleTimeoutMs });
    req.on("response", resolve);
    req.on("timeout", () => req.destroy(idle(shown, idleTimeoutMs)));
    req.on("error", (err) => {
      reject(signal.aborted ? asError(signal.reason) : unavailable(err, shown));
    });
    req.end();
  });
}

/** How many leading bytes of the body to skip; throws (and drops the answer) when it is not the input. */
function checkAnswer(
  response: IncomingMessage,
  input: InputRef,
  offset: number,
  shown: string,
): number {
  const status = response.statusCode ?? 0;
  const fail = (err: GamedockError): never => {
    response.destroy();
    throw err;
  };
  if (status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers["content-range"] ?? "");
    const total = range?.[3] === "*" ? input.size : Number(range?.[3]);
    if (range && total !== input.size) fail(servedSizeMismatch(input, total, shown));
    if (!range || Number(range[1]) !== offset || Number(range[2]) !== input.size - 1) {
      fail(
        protocolError(
          shown,
          `206 with Content-Range ${JSON.stringify(response.headers["content-range"])} for bytes=${offset}-`,
        ),
      );
    }
    return 0;
  }
  if (status === 200) {
    const length = response.headers["content-length"];
    if (length !== undefined && Number(length) !== input.size) {
      fail(servedSizeMismatch(input, Number(length), shown));
    }
    return offset;
  }
  if (status === 404) {
    fail(
      new GamedockError("E_INPUT_NOT_FOUND", `${shown} has no file with sha256 ${input.sha256}`, {
        sha256: input.sha256,
      }),
    );
  }
  if (status === 416) {
    // Offsets asked for are always below the input's size: the served file is shorter.
    fail(
      new GamedockError(
        "E_INPUT_DIGEST_MISMATCH",
        `${shown} answered 416 for bytes=${offset}- of input ${input.sha256} (${input.size} bytes): ` +
          `its file is shorter than the input's size`,
        { sha256: input.sha256, size: input.size, offset },
      ),
    );
  }
  if (status === 401 || status === 403) {
    fail(
      new GamedockError(
        "E_UNAUTHORIZED",
        `${shown} refused the executor's token (HTTP ${status}) for input ${input.sha256}`,
        { status },
      ),
    );
  }
  const retryable = status >= 500 || status === 408 || status === 429;
  return fail(
    new GamedockError(
      "E_SERVICE_UNAVAILABLE",
      `${shown} answered HTTP ${status} for input ${input.sha256}`,
      { status, sha256: input.sha256 },
      { retryable },
    ),
  );
}

async function* body(
  response: IncomingMessage,
  skip: number,
  input: InputRef,
  signal: AbortSignal,
  shown: string,
): AsyncGenerator<Uint8Array> {
  let toSkip = skip;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      if (toSkip >= chunk.length) {
        toSkip -= chunk.length;
        continue;
      }
      yield toSkip > 0 ? chunk.subarray(toSkip) : chunk;
      toSkip = 0;
    }
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw err instanceof GamedockError ? err : unavailable(err, shown, input);
  } finally {
    response.destroy();
  }
}

function unavailable(err: unknown, shown: string, input?: InputRef): GamedockError {
  if (err instanceof GamedockError) return err;
  const code = errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
  const during = input ? ` while sending input ${input.sha256}` : "";
  return new GamedockError(
    "E_SERVICE_UNAVAILABLE",
    `the file service ${shown} failed${during}: ${code}`,
    { reason: code },
    { retryable: true, cause: err },
  );
}

function idle(shown: string, ms: number): GamedockError {
  return new GamedockError(
    "E_SERVICE_UNAVAILABLE",
    `the file service ${shown} sent nothing for ${ms} ms`,
    { idleTimeoutMs: ms },
    { retryable: true },
  );
}

function protocolError(shown: string, what: string): GamedockError {
  return new GamedockError(
    "E_SERVICE_UNAVAILABLE",
    `${shown} answered ${what}`,
    { answer: what },
    { retryable: false },
  );
}
