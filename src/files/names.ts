/**
 * File names as clients give them (`PUT /files/:name`, tus `Upload-Metadata`).
 * A name is never a path: it only ends up in Content-Disposition and in the
 * metadata, but refusing separators, dot names and control characters up
 * front means no later use of it (a log line, a save dialog, a tool that does
 * join(dir, name)) can be tricked into a traversal or a forged header.
 */
import { GamedockError } from "../core/index.js";

export const MAX_NAME_BYTES = 255;

/** C0, DEL and C1 controls: NUL cuts strings in C, CR/LF forge headers and log lines. */
const CONTROL = /\p{Cc}/u;

function nameError(name: string, rule: string): GamedockError {
  return new GamedockError("E_FILE_NAME", `invalid file name ${JSON.stringify(name)}: ${rule}`, {
    name,
  });
}

/** Returns `name` if it is acceptable, else throws E_FILE_NAME saying which rule it breaks. */
export function validateFileName(name: string): string {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0) throw nameError(name, "it is empty");
  if (bytes > MAX_NAME_BYTES) {
    throw nameError(name, `it is ${bytes} bytes of UTF-8; at most ${MAX_NAME_BYTES} are allowed`);
  }
  // A lone surrogate has no UTF-8 form: stored, it would silently become U+FFFD.
  if (Buffer.from(name, "utf8").toString("utf8") !== name) {
    throw nameError(name, "it is not valid Unicode (lone surrogate)");
  }
  if (name.includes("/") || name.includes("\\")) {
    throw nameError(name, "a file name must not contain '/' or '\\' (it is a name, not a path)");
  }
  if (CONTROL.test(name)) throw nameError(name, "control characters are not allowed");
  if (name === "." || name === "..") throw nameError(name, "'.' and '..' are not file names");
  return name;
}
