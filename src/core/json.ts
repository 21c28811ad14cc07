/**
 * JSON from clients, parsed strictly: a syntax error, a key given twice in one
 * object, a `__proto__` key, or nesting deeper than a limit is refused with a
 * stable code. JSON.parse keeps the last of two equal keys silently, so
 * `{"channels": [...], "channels": [...]}` would mean something other than
 * what a reviewer of the request sees; deep nesting costs stack and time.
 *
 * JSON.parse checks the syntax first (fast, native); one linear scan over the
 * text then checks keys and depth.
 */
import { GamedockError } from "./errors.js";

export const DEFAULT_MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function invalid(message: string): GamedockError {
  return new GamedockError("E_INVALID_REQUEST", message);
}

/** The end (exclusive) of the string literal that starts at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  return text.length; // unterminated: JSON.parse has refused it already
}

interface Open {
  /** Keys seen so far in an object; null for an array. */
  keys: Set<string> | null;
  /** Index of the current element of an array. */
  index: number;
}

function checkKeysAndDepth(text: string, maxDepth: number): void {
  const stack: Open[] = [];
  // path[i]: the key or index inside stack[i] that the scan is in, for messages ("channels.3.extras").
  const path: string[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      const top = stack.at(-1);
      if (expectKey && top?.keys) {
        const key = JSON.parse(text.slice(i, end)) as string;
        const where = [...path.slice(0, stack.length - 1), key].join(".");
        if (key === "__proto__") throw invalid(`the key ${JSON.stringify(where)} is not allowed`);
        if (top.keys.has(key)) {
          throw new GamedockError(
            "E_JSON_DUPLICATE_KEY",
            `the JSON body gives the key ${JSON.stringify(where)} twice; give each key once`,
            { field: where },
          );
        }
        top.keys.add(key);
        path[stack.length - 1] = key;
        expectKey = false;
      }
      i = end - 1;
    } else if (c === "{" || c === "[") {
      if (stack.length >= maxDepth) {
        throw invalid(`the JSON body is nested deeper than ${maxDepth} levels`);
      }
      stack.push({ keys: c === "{" ? new Set() : null, index: 0 });
      path[stack.length - 1] = "0";
      expectKey = c === "{";
    } else if (c === "}" || c === "]") {
      stack.pop();
      path.length = stack.length;
      expectKey = false;
    } else if (c === ",") {
      const top = stack.at(-1);
      if (top?.keys) expectKey = true;
      else if (top) path[stack.length - 1] = String(++top.index);
    }
  }
}

/** Parses client JSON; throws E_INVALID_REQUEST or E_JSON_DUPLICATE_KEY saying what is wrong. */
export function parseClientJson(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(`the body is not valid JSON: ${(err as Error).message}`);
  }
  checkKeysAndDepth(text, maxDepth);
  return value;
}
