/**
 * The HTTP validators and ranges a download of a stored object honours
 * (RFC 9110 §13, §14).
 * Only single byte ranges are served. A Range header this server does not
 * serve — multiple ranges, another unit, or bad syntax — is ignored and the
 * whole file is sent with 200, which RFC 9110 §14.2 allows ("A server MAY
 * ignore the Range header field"). A well-formed single range that starts past
 * the end is answered 416.
 */

export type RangeRequest =
  { kind: "whole" } | { kind: "part"; start: number; end: number } | { kind: "unsatisfiable" };

const WHOLE: RangeRequest = { kind: "whole" };
const SINGLE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/** Decides what to send for `Range: <header>` of a representation of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return WHOLE;
  const match = SINGLE.exec(header);
  if (!match) return WHOLE; // multi-range, other unit or malformed: ignored
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return WHOLE;
  if (first === "") {
    // Suffix range "-n": the last n bytes; a zero-length suffix selects nothing.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "part", start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? Number.POSITIVE_INFINITY : Number(last);
  if (end < start) return WHOLE; // "5-3" is invalid syntax, not an unsatisfiable range
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "part", start, end: Math.min(end, size - 1) };
}

/** Entity tags of an If-None-Match / If-Match list; "*" stays "*". Weak prefixes are kept. */
function entityTags(header: string): string[] {
  return header
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}

/** If-None-Match uses the weak comparison: W/"x" matches "x". */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return entityTags(header).some((tag) => tag === "*" || tag.replace(/^W\//, "") === etag);
}

/**
 * If-Range: the range applies only if the validator still matches (strong
 * comparison for an entity tag; an HTTP date must equal Last-Modified).
 * Otherwise the client's partial copy is stale and it gets the whole file.
 */
export function rangeStillValid(
  header: string | undefined,
  etag: string,
  lastModified: Date,
): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return value === etag;
  const date = Date.parse(value);
  return (
    !Number.isNaN(date) && Math.floor(date / 1000) === Math.floor(lastModified.getTime() / 1000)
  );
}
