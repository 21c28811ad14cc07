/**
 * Local paths the config names: can the directory be written, or created?
 * Nothing is created: the nearest existing ancestor must be a directory in
 * which a file can be made (a probe file, removed at once). access(W_OK)
 * would say yes to root on a read-only mount, and /proc accepts no files at
 * all, which only trying shows.
 */
import { randomBytes } from "node:crypto";
import { open, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errnoCode } from "../../core/index.js";

export interface DirState {
  /** The directory exists now (else it would be created under `ancestor`). */
  exists: boolean;
  /** The directory itself, or the nearest existing ancestor it would be created in. */
  ancestor: string;
}

async function nearestExisting(path: string): Promise<{ path: string; isDir: boolean }> {
  for (let at = path; ; at = dirname(at)) {
    try {
      return { path: at, isDir: (await stat(at)).isDirectory() };
    } catch (err) {
      const code = errnoCode(err);
      // ENOTDIR: some ancestor is a file; going up finds it and says so.
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        throw new Error(`${at} cannot be examined (${code ?? (err as Error).message})`);
      }
      if (dirname(at) === at) throw new Error(`no part of ${path} exists`);
    }
  }
}

async function canCreateFileIn(dir: string): Promise<string | null> {
  const probe = join(dir, `.gamedock-doctor-${randomBytes(6).toString("hex")}`);
  try {
    await (await open(probe, "wx")).close();
    return null;
  } catch (err) {
    return errnoCode(err) ?? (err as Error).message;
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/**
 * Whether `dir` is (or can become) a writable directory. Throws an Error
 * whose message says what stands in the way.
 */
export async function writableDir(dir: string): Promise<DirState> {
  const found = await nearestExisting(dir);
  if (!found.isDir) {
    throw new Error(
      found.path === dir
        ? `${dir} is not a directory`
        : `${dir} cannot be created: ${found.path} is a file, not a directory`,
    );
  }
  const problem = await canCreateFileIn(found.path);
  if (problem !== null) {
    throw new Error(
      found.path === dir
        ? `${dir} is not writable (${problem})`
        : `${dir} cannot be created: nothing can be created in ${found.path} (${problem})`,
    );
  }
  return { exists: found.path === dir, ancestor: found.path };
}

/**
 * Whether a file (SQLite database, queue file) at `path` can be opened for
 * writing, or created; its directory must be writable too (SQLite keeps its
 * -wal and -shm files beside it). Returns whether it exists.
 */
export async function writableFile(path: string): Promise<boolean> {
  let exists = true;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error(`${path} exists but is not a file`);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
    exists = false;
  }
  await writableDir(dirname(path));
  if (!exists) return false;
  try {
    await (await open(path, "r+")).close();
  } catch (err) {
    throw new Error(`${path} cannot be opened for writing (${errnoCode(err) ?? String(err)})`);
  }
  return true;
}
