/**
 * The output patterns' glob, small on purpose (no dependency, nothing a user
 * has to look up):
 * - `*` any run of characters inside one path segment (possibly empty),
 * - `?` exactly one character (one code point, so `?` matches 中),
 * - a segment that is exactly `**` matches zero or more whole segments
 *   (a leading `**` segment finds a name at any depth, a trailing one every
 *   file below a directory),
 * - everything else is literal, including `[`, `{` and `\`.
 * Wildcards match names that begin with a dot: the sandbox holds nothing of
 * the runner's own, so there is nothing to hide.
 */
import { relativeSegments } from "./relative-path.js";

export interface OutputPattern {
  /** The pattern as the task gave it. */
  source: string;
  /** Normalised ("./" dropped), "/"-separated. */
  normal: string;
  segments: string[];
  /** No wildcard: names exactly one path. */
  literal: boolean;
  matches(rel: string): boolean;
}

const WILDCARD = /[*?]/;

/** A compiled pattern, or E_PATH_INVALID when it could name a file outside the sandbox. */
export function compilePattern(source: string): OutputPattern {
  const segments = collapseGlobstars(relativeSegments(source, "output pattern"));
  const literal = !segments.some((segment) => WILDCARD.test(segment));
  const matchers = segments.map(segmentMatcher);
  return {
    source,
    normal: segments.join("/"),
    segments,
    literal,
    matches: (rel) => matchFrom(matchers, 0, rel.split("/"), 0),
  };
}

type SegmentMatcher = "globstar" | ((name: string) => boolean);

// Two `**` segments in a row mean the same as one; collapsing keeps matching linear in practice.
function collapseGlobstars(segments: string[]): string[] {
  return segments.filter((segment, i) => !(segment === "**" && segments[i - 1] === "**"));
}

function segmentMatcher(segment: string): SegmentMatcher {
  if (segment === "**") return "globstar";
  if (!WILDCARD.test(segment)) return (name) => name === segment;
  let source = "^";
  for (const char of segment) {
    if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const regex = new RegExp(`${source}$`, "u");
  return (name) => regex.test(name);
}

function matchFrom(
  matchers: readonly SegmentMatcher[],
  m: number,
  names: readonly string[],
  n: number,
): boolean {
  if (m === matchers.length) return n === names.length;
  const matcher = matchers[m]!;
  if (matcher === "globstar") {
    // Zero directories, or one more, then the rest of the pattern.
    for (let skip = n; skip <= names.length; skip++) {
      if (matchFrom(matchers, m + 1, names, skip)) return true;
    }
    return false;
  }
  return n < names.length && matcher(names[n]!) && matchFrom(matchers, m + 1, names, n + 1);
}
