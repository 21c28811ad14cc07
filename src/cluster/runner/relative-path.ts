/**
 * The one check every sandbox-relative path passes before the runner touches
 * the disk: input paths and output patterns. The task API validates both at
 * submit; this is defence in depth, so a path that reaches the runner some
 * other way still cannot name a file outside the sandbox.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { GamedockError, textProblem } from "../../core/index.js";

/**
 * The segments of `path` ("./" and "." segments dropped), or a GamedockError
 * E_PATH_INVALID saying what is wrong. `what` names the path in the message.
 */
export function relativeSegments(path: string, what: string): string[] {
  const fail = (why: string) =>
    new GamedockError("E_PATH_INVALID", `${what} ${JSON.stringify(path)} ${why}`, { path });
  if (path === "") throw fail("is empty");
  if (path.includes("\0")) throw fail("contains a NUL character");
  const problem = textProblem(path);
  if (problem !== null) throw fail(`cannot be used: ${problem}`);
  if (isAbsolute(path)) throw fail("is absolute; it must be relative to the sandbox");
  const segments = path.split("/").filter((segment) => segment !== ".");
  // "a/../b" stays inside, but a ".." anywhere is refused: the API never sends one.
  if (segments.includes("..")) throw fail('contains "..", which could leave the sandbox');
  if (segments.length === 0) throw fail("names the sandbox itself, not a file in it");
  if (segments.includes("")) throw fail("has an empty segment (a doubled or trailing /)");
  return segments;
}

/** Absolute path of `segments` under `root`, checked once more to stay strictly inside it. */
export function insideRoot(root: string, segments: readonly string[], what: string): string {
  const target = resolve(root, ...segments);
  const rel = relative(root, target);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new GamedockError(
      "E_PATH_INVALID",
      `${what} ${JSON.stringify(segments.join("/"))} resolves outside the sandbox`,
      { path: segments.join("/") },
    );
  }
  return target;
}

/** Whether the absolute `path` is `root` itself or below it (both already real paths). */
export function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}
