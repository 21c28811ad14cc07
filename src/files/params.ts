/** Query and header values of /files requests, checked with messages that name the field. */
import { GamedockError } from "../core/index.js";

/** Ten years: longer lifetimes are almost certainly a unit mistake (ms for s). */
export const MAX_TTL_SECONDS = 10 * 365 * 86_400;

/** `?name=<seconds>`: absent → fallback; else a whole number from `min` to MAX_TTL_SECONDS. */
export function secondsParam(value: unknown, field: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !/^\d{1,10}$/.test(value) || Number(value) < min) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${field} must be a whole number of seconds from ${min} to ${MAX_TTL_SECONDS}, got ${JSON.stringify(value)}`,
      { field },
    );
  }
  const seconds = Number(value);
  if (seconds > MAX_TTL_SECONDS) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${field} is at most ${MAX_TTL_SECONDS} seconds (ten years), got ${seconds}`,
      { field },
    );
  }
  return seconds;
}

/** Lowercase hex digest of `length` digits, or E_INVALID_REQUEST. */
export function hexParam(value: string, kind: "sha256" | "md5"): string {
  const length = kind === "sha256" ? 64 : 32;
  if (!new RegExp(`^[0-9a-fA-F]{${length}}$`).test(value)) {
    throw new GamedockError(
      "E_INVALID_REQUEST",
      `${kind} must be ${length} hex digits, got ${JSON.stringify(value)}`,
      { field: kind },
    );
  }
  return value.toLowerCase();
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** type/subtype and optional parameters (RFC 9110 §8.3.1), printable ASCII only. */
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}([ \\t]*;[\\x20-\\x7e]*)?$`);

/**
 * The Content-Type of an upload, which every download repeats. Anything that
 * is not a plausible media type is refused rather than stored and echoed back.
 */
export function uploadContentType(header: string | undefined): string {
  if (header === undefined || header.trim() === "") return "application/octet-stream";
  const value = header.trim();
  if (value.length > 255 || !MEDIA_TYPE.test(value)) {
    throw new GamedockError(
      "E_CONTENT_TYPE",
      `Content-Type ${JSON.stringify(value)} is not a media type like application/octet-stream or image/png (at most 255 characters)`,
      { contentType: value },
    );
  }
  return value;
}

/** Content-Length as a number, or null for a chunked body. */
export function declaredLength(header: string | undefined): number | null {
  if (header === undefined) return null;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}
