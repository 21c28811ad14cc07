/**
 * Creating a directory, and its missing parents, one level at a time — never
 * with mkdir's `recursive`. Node's recursive mkdir retries a level that
 * answers ENOENT after its parent exists, which is what /proc (and similar
 * file systems) answer for every new name: `mkdir -p /proc/nope` spins
 * forever in Node. Level by level, every refusal (ENOENT under /proc, EPERM
 * under /sys, EROFS, EACCES, a file in the way) ends at once in an error
 * naming the directory and the level that failed.
 *
 * Used for every directory a user configures (data, packages root, work
 * directory, fs targets, database and queue files, log file, `pack -o`);
 * below a directory made this way, recursive mkdir is safe again.
 */
import { mkdirSync, statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { GamedockError, errnoCode } from "./errors.js";

/** Why `dir` cannot be made: the GamedockError a caller throws (its own code and words). */
export type DirectoryError = (dir: string, why: string) => GamedockError;

export const directoryError =
  (what: string): DirectoryError =>
  (dir, why) =>
    new GamedockError("E_PATH_INVALID", `${what} ${dir} cannot be created (${why})`, {
      path: dir,
    });

type Stat = { isDirectory(): boolean } | null;

/** The levels of `dir` to create, outermost first; [] when it exists. */
function plan(dir: string, statOf: (path: string) => Stat | "error", fail: DirectoryError) {
  const missing: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    const info = statOf(at);
    if (info === "error") throw fail(dir, `${at} cannot be read`);
    if (info?.isDirectory()) return missing.reverse();
    if (info)
      throw fail(
        dir,
        at === dir ? "it is a file, not a directory" : `${at} is a file, not a directory`,
      );
    if (dirname(at) === at) throw fail(dir, "no part of the path exists");
    missing.push(at);
  }
}

function statResult(err: unknown): null | "error" {
  // ENOENT: not there (yet); ENOTDIR: a file above, which going up finds and names.
  const code = errnoCode(err);
  return code === "ENOENT" || code === "ENOTDIR" ? null : "error";
}

/** Creates `dir` and its missing parents, or throws `fail(dir, why)`. */
export async function makeDirectory(
  path: string,
  fail: DirectoryError = directoryError("directory"),
): Promise<void> {
  const dir = resolve(path);
  const infos = new Map<string, Stat | "error">();
  // plan() is synchronous; gather what it needs first, level by level upwards.
  for (let at = dir; ; at = dirname(at)) {
    const info = await stat(at).catch(statResult);
    infos.set(at, info);
    if (info !== null || dirname(at) === at) break;
  }
  for (const level of plan(dir, (at) => infos.get(at) ?? null, fail)) {
    await mkdir(level).catch(async (err: unknown) => {
      // Another process may create the same level at the same moment.
      if (errnoCode(err) === "EEXIST" && (await stat(level).catch(() => null))?.isDirectory()) {
        return;
      }
      throw fail(
        dir,
        level === dir
          ? (errnoCode(err) ?? String(err))
          : `${level}: ${errnoCode(err) ?? String(err)}`,
      );
    });
  }
}

/** makeDirectory for start-up code that is synchronous (opening SQLite files). */
export function makeDirectorySync(
  path: string,
  fail: DirectoryError = directoryError("directory"),
): void {
  const dir = resolve(path);
  const statOf = (at: string): Stat | "error" => {
    try {
      return statSync(at);
    } catch (err) {
      return statResult(err);
    }
  };
  for (const level of plan(dir, statOf, fail)) {
    try {
      mkdirSync(level);
    } catch (err) {
      if (errnoCode(err) === "EEXIST" && (statOf(level) as Stat)?.isDirectory()) continue;
      throw fail(
        dir,
        level === dir
          ? (errnoCode(err) ?? String(err))
          : `${level}: ${errnoCode(err) ?? String(err)}`,
      );
    }
  }
}
