/**
 * What one doctor check reports, and how a probe becomes one: every probe
 * runs against a deadline (a host that never answers fails in seconds, not
 * after the driver's own minutes-long timeouts), and anything it throws is
 * turned into a failed check with the fix the caller supplies.
 */
import { asError, isGamedockError } from "../../core/index.js";

export interface Check {
  /** The config key (or thing) checked: "database", "queues.default", "tool apksigner". */
  name: string;
  ok: boolean;
  /** What was found: where it is and what answered, or what went wrong. */
  detail: string;
  /** For a failed check: what to change. */
  fix?: string;
  /** A failed optional check is a warning: it does not make doctor fail. */
  optional?: boolean;
}

export const pass = (name: string, detail: string): Check => ({ name, ok: true, detail });

export const fail = (name: string, detail: string, fix: string): Check => ({
  name,
  ok: false,
  detail,
  fix,
});

/** A probe that ran out of time: its message says so, and callers can tell. */
export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms / 1000} s`);
    this.name = "DeadlineExceeded";
  }
}

/** Settles like `work`, or rejects with DeadlineExceeded after `ms`; the timer never outlives it. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new DeadlineExceeded(what, ms));
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The one-line reason of a failure: a GamedockError's message, else the error's own. */
export function reason(err: unknown): string {
  const error = asError(err);
  if (isGamedockError(error)) return error.message;
  const code = (error as { code?: unknown }).code;
  const message = error.message.split("\n")[0] ?? "";
  return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * Runs `probe` within `ms`. A probe returns its check, or throws: the check
 * then fails with the reason and `fixFor(err)`. `where` names what is probed
 * in the message of a probe that ran out of time (a URL without password).
 */
export async function runProbe(
  name: string,
  ms: number,
  probe: () => Promise<Check>,
  fixFor: (err: unknown) => string,
  where = name,
): Promise<Check> {
  try {
    return await withDeadline(probe(), ms, where);
  } catch (err) {
    return fail(name, reason(err), fixFor(err));
  }
}
