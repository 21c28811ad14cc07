/**
 * File names as clients give them (`PUT /files/:name`, tus `Upload-Metadata`).
 * A name is never a path: it only ends up in Content-Disposition and in the
 * metadata, but refusing separators, dot names and control characters up
 * front means no later use of it (a log line, a save dialog, a tool that does
 * join(dir, name)) can be tricked into a traversal or a forged header.
 */
import { GamedockError, textProblem } from "../core/index.js";

export const MAX_NAME_BYTES = 255;

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
  // Lone surrogates (no UTF-8 form), controls (NUL cuts strings in C, CR/LF forge
  // headers and log lines) and bidi controls (a name displayed reversed).
  const problem = textProblem(name);
  if (problem !== null) throw nameError(name, problem);
  if (name.includes("/") || name.includes("\\")) {
    throw nameError(name, "a file name must not contain '/' or '\\' (it is a name, not a path)");
  }
  if (name === "." || name === "..") throw nameError(name, "'.' and '..' are not file names");
  return name;
}
