/**
 * One HTTP POST with the sink's quick retries, shared by the webhook and robot
 * sinks. Each attempt has its own timeout; transient failures (network errors,
 * timeouts, answers the judge calls retryable) are retried with exponential
 * backoff, and a permanent rejection stops at once. Longer retries are the
 * caller's business (through its queue), so the total time stays bounded.
 *
 * Messages name the sink and the URL host only: robot URLs carry access tokens
 * in their path or query, and the signing secret never leaves the sink.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { GamedockError, errnoCode } from "../core/index.js";

export interface PostRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What one answer from the receiver means. */
export type Verdict =
  { ok: true } | { ok: false; retryable: boolean; reason: string; extra?: Record<string, unknown> };

export interface PostOptions {
  sink: string;
  /** The configured URL; only its host appears in messages. */
  url: string;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  /** Called per attempt, so timestamps and signatures are fresh on every retry. */
  build: () => PostRequest;
  /** Decides from the HTTP status and (capped) body whether the event was delivered. */
  judge: (status: number, body: string) => Verdict;
}

/** Receivers answer with a short status; more than this is not worth buffering. */
const MAX_ANSWER_BYTES = 64 * 1024;

type Failure = Extract<Verdict, { ok: false }> & { status?: number };

/** The plain-HTTP rule: 2xx delivered; 408, 429, 5xx retryable; anything else permanent. */
export function judgeHttpStatus(status: number, body: string): Verdict {
  if (status >= 200 && status < 300) return { ok: true };
  const snippet = oneLine(body, 200);
  const reason = snippet === "" ? `HTTP ${status}` : `HTTP ${status}: ${snippet}`;
  if (status === 408 || status === 429 || status >= 500) {
    return { ok: false, retryable: true, reason };
  }
  if (status >= 300 && status < 400) {
    // Following a redirect would turn the POST into a GET; the config should name the final URL.
    return { ok: false, retryable: false, reason: `${reason} (redirect; configure the final URL)` };
  }
  return { ok: false, retryable: false, reason };
}

export async function postWithRetries(options: PostOptions): Promise<void> {
  const host = new URL(options.url).host;
  const attempts = options.retries + 1;
  let last: Failure | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep(options.backoffMs * 2 ** (attempt - 2));
    const outcome = await attemptOnce(options);
    if (outcome === undefined) return;
    if (!outcome.retryable) {
      throw new GamedockError(
        "E_NOTIFY_PERMANENT",
        `notification sink "${options.sink}": ${host} rejected the event (${outcome.reason}); ` +
          `retrying will not help — fix the receiver or the sink's config`,
        details(options.sink, host, outcome, attempt),
      );
    }
    last = outcome;
  }
  const failure = last!;
  throw new GamedockError(
    "E_NOTIFY_FAILED",
    `notification sink "${options.sink}" could not deliver to ${host} ` +
      `after ${attempts} attempt(s): ${failure.reason}`,
    details(options.sink, host, failure, attempts),
  );
}

/** undefined when delivered, else why not. */
async function attemptOnce(options: PostOptions): Promise<Failure | undefined> {
  const request = options.build();
  try {
    const response = await fetch(request.url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const answer = await readCapped(response);
    const verdict = options.judge(response.status, answer);
    return verdict.ok ? undefined : { ...verdict, status: response.status };
  } catch (err) {
    return { ok: false, retryable: true, reason: describeNetworkError(err, options.timeoutMs) };
  }
}

function details(
  sink: string,
  host: string,
  failure: Failure,
  attempts: number,
): Record<string, unknown> {
  return {
    sink,
    host,
    ...(failure.status === undefined ? {} : { status: failure.status }),
    ...failure.extra,
    attempts,
  };
}

async function readCapped(response: Response): Promise<string> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  // undici types the body as ReadableStream<any>; fetch bodies are always bytes.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= MAX_ANSWER_BYTES) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  // fetch reports "fetch failed" and puts the system error (ECONNREFUSED …) in `cause`.
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = errnoCode(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code !== undefined && !message.includes(code)) return `${code}: ${message}`;
  return message;
}

/** Collapses whitespace and caps length, for quoting a receiver's answer in a message. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
