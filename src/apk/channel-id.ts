/**
 * What a channel id and its extras may be — the one validator every entry
 * point uses (CLI arguments and channel files, the pack-jobs API, the
 * /files channel route). Channel ids end up in file names, object keys and
 * URLs; extras end up in the Walle JSON inside every child. Both must be
 * well-formed Unicode without control or bidi characters (core/text.ts), and
 * extras are capped in number and size so one request cannot make the
 * children or the database grow without bound.
 */
import { GamedockError, codePointLength, quoteText, textProblem } from "../core/index.js";

export const MAX_CHANNEL_LENGTH = 64;
export const MAX_EXTRA_KEY_LENGTH = 64;
export const MAX_EXTRA_VALUE_LENGTH = 1024;
const FORBIDDEN = /[/\\:*?"<>|]/u;

/** Caps on one set of extras (a channel's own, or a job's shared ones). */
export interface ExtrasLimits {
  /** Most keys in one set. */
  maxExtras: number;
  /** Most UTF-8 bytes of all keys and values of one set together. */
  maxExtrasBytes: number;
}

export const DEFAULT_EXTRAS_LIMITS: ExtrasLimits = { maxExtras: 32, maxExtrasBytes: 4096 };

/** Where a channel came from, for error messages: "-c", or "channels.txt line 4". */
export type ChannelSource = string;

export function validateChannelId(channel: unknown, source: ChannelSource): string {
  if (typeof channel !== "string") {
    throw new GamedockError(
      "E_CHANNEL_INVALID",
      `channel id (${source}) must be a string, not ${channel === null ? "null" : typeof channel}`,
      { source },
    );
  }
  const length = codePointLength(channel);
  const where = `channel ${quoteText(channel)} (${source})`;
  if (length === 0) {
    throw new GamedockError("E_CHANNEL_INVALID", `empty channel id (${source})`, { source });
  }
  if (length > MAX_CHANNEL_LENGTH) {
    throw new GamedockError(
      "E_CHANNEL_INVALID",
      `${where} is ${length} characters long; the limit is ${MAX_CHANNEL_LENGTH}`,
      { channel, source },
    );
  }
  const problem = textProblem(channel);
  if (problem !== null) {
    throw new GamedockError("E_CHANNEL_INVALID", `${where} cannot be used: ${problem}`, {
      channel,
      source,
    });
  }
  const forbidden = FORBIDDEN.exec(channel);
  if (forbidden) {
    throw new GamedockError(
      "E_CHANNEL_INVALID",
      `${where} contains ${quoteText(forbidden[0])}; channel ids may not contain / \\ : * ? " < > |`,
      { channel, source },
    );
  }
  if (channel === "." || channel === "..") {
    throw new GamedockError("E_CHANNEL_INVALID", `${where} is not a valid channel id`, {
      channel,
      source,
    });
  }
  return channel;
}

function extraError(message: string, source: string, key?: string): GamedockError {
  return new GamedockError("E_EXTRA_INVALID", message, { source, ...(key ? { key } : {}) });
}

function checkExtraKey(key: string, source: string): void {
  const length = codePointLength(key);
  if (length === 0 || length > MAX_EXTRA_KEY_LENGTH) {
    throw extraError(
      `extra key ${quoteText(key)} (${source}) must be 1 to ${MAX_EXTRA_KEY_LENGTH} characters`,
      source,
      key,
    );
  }
  const problem = textProblem(key);
  if (problem !== null) {
    throw extraError(`extra key ${quoteText(key)} (${source}): ${problem}`, source, key);
  }
  if (key.includes("=")) {
    throw extraError(`extra key ${quoteText(key)} (${source}) must not contain "="`, source, key);
  }
  if (key === "channel") {
    throw extraError(
      `extra key "channel" (${source}) is reserved for the channel id itself`,
      source,
      key,
    );
  }
}

function checkExtraValue(key: string, value: unknown, source: string): string {
  if (typeof value !== "string") {
    throw extraError(`extra ${quoteText(key)} (${source}) must be a string`, source, key);
  }
  const length = codePointLength(value);
  if (length > MAX_EXTRA_VALUE_LENGTH) {
    throw extraError(
      `extra ${quoteText(key)} (${source}) is ${length} characters long; the limit is ${MAX_EXTRA_VALUE_LENGTH}`,
      source,
      key,
    );
  }
  const problem = textProblem(value);
  if (problem !== null) {
    throw extraError(`extra ${quoteText(key)} (${source}): ${problem}`, source, key);
  }
  return value;
}

/**
 * Checks one set of extras (keys, values, count, total size) and returns it
 * as a plain record. E_EXTRA_INVALID for a bad key or value, E_EXTRAS_LIMIT
 * past a cap.
 */
export function validateExtras(
  extras: unknown,
  source: string,
  limits: ExtrasLimits = DEFAULT_EXTRAS_LIMITS,
): Record<string, string> {
  if (typeof extras !== "object" || extras === null || Array.isArray(extras)) {
    throw extraError(`extras (${source}) must be an object of string values`, source);
  }
  const entries = Object.entries(extras);
  if (entries.length > limits.maxExtras) {
    throw new GamedockError(
      "E_EXTRAS_LIMIT",
      `${source} has ${entries.length} extras; at most ${limits.maxExtras} are allowed (packer.limits.maxExtras)`,
      { source, limit: limits.maxExtras },
    );
  }
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [key, value] of entries) {
    checkExtraKey(key, source);
    out[key] = checkExtraValue(key, value, source);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(out[key]);
  }
  if (bytes > limits.maxExtrasBytes) {
    throw new GamedockError(
      "E_EXTRAS_LIMIT",
      `the extras of ${source} are ${bytes} bytes of UTF-8; at most ${limits.maxExtrasBytes} are allowed (packer.limits.maxExtrasBytes)`,
      { source, limit: limits.maxExtrasBytes },
    );
  }
  return out;
}

/** `key=value` as given on a command line or in a channels file; checked like any extra. */
export function parseExtra(text: string, source: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw extraError(
      `extra ${quoteText(text)} (${source}) must look like key=value with a non-empty key`,
      source,
    );
  }
  const key = text.slice(0, eq);
  checkExtraKey(key, source);
  return [key, checkExtraValue(key, text.slice(eq + 1), source)];
}

/** Several `key=value` texts as one set of extras (a repeated key: the last wins), checked as a whole. */
export function parseExtras(
  texts: readonly string[],
  source: string,
  limits: ExtrasLimits = DEFAULT_EXTRAS_LIMITS,
): Record<string, string> {
  const pairs = texts.map((text) => parseExtra(text, source));
  return validateExtras(Object.fromEntries(pairs), source, limits);
}
