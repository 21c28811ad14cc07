/**
 * Where the staging cache keeps its bytes under its directory, and what it
 * finds there when it opens:
 *
 *   objects/<aa>/<sha256>   verified files, mode 0444, mtime VERIFIED_MTIME
 *   partial/<sha256>        downloads in progress or cut short: a prefix of
 *                           the input's bytes, appended to on resume
 *   owner                   the process that has the cache open (dir-lock.ts)
 *
 * A partial file needs no metadata: its name says which content it belongs
 * to, its length is the resume point, and the final sha256 check catches a
 * prefix that went wrong. Verified files get a fixed mtime: a write through a
 * hard link (a tool in a sandbox) sets it to "now", so a changed file shows
 * even after a restart, with no record of what the mtime was. The atime
 * carries the last use, so LRU order survives a restart too.
 *
 * Only names this module writes are touched: the directory may be configured
 * at a place that holds other files, and those are never removed.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, removeAbandonedTemps } from "../../core/index.js";

/** 2000-01-01T00:00:00Z: not the epoch, since zip and some tools refuse dates before 1980. */
export const VERIFIED_MTIME_MS = Date.UTC(2000, 0, 1);
export const VERIFIED_MODE = 0o444;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(text: string): boolean {
  return SHA256_HEX.test(text);
}

export interface CacheLayout {
  objects: string;
  partial: string;
  objectDir(sha256: string): string;
  objectPath(sha256: string): string;
  partialPath(sha256: string): string;
}

export function cacheLayout(dir: string): CacheLayout {
  const objects = join(dir, "objects");
  const partial = join(dir, "partial");
  const objectDir = (sha256: string): string => join(objects, sha256.slice(0, 2));
  return {
    objects,
    partial,
    objectDir,
    objectPath: (sha256) => join(objectDir(sha256), sha256),
    partialPath: (sha256) => join(partial, sha256),
  };
}

export interface FoundObject {
  sha256: string;
  size: number;
  /** Last use (atime), for LRU order. */
  lastUsed: number;
}

export interface FoundPartial {
  sha256: string;
  bytes: number;
  /** Last write (mtime). */
  lastUsed: number;
}

export interface FoundOnDisk {
  objects: FoundObject[];
  partials: FoundPartial[];
}

/**
 * What the cache holds on disk: verified files and partial downloads. Abandoned
 * temp files and empty partial files are removed; a partial download of
 * content that is also verified is removed (the verified file wins).
 */
export async function scanLayout(layout: CacheLayout): Promise<FoundOnDisk> {
  const objects: FoundObject[] = [];
  for (const prefix of await listNames(layout.objects)) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    const sub = join(layout.objects, prefix);
    await removeAbandonedTemps(sub);
    for (const name of await listNames(sub)) {
      if (!isSha256Hex(name) || !name.startsWith(prefix)) continue;
      const info = await statFile(join(sub, name));
      if (info) objects.push({ sha256: name, size: info.size, lastUsed: info.atimeMs });
    }
  }
  const verified = new Set(objects.map((found) => found.sha256));
  await removeAbandonedTemps(layout.partial);
  const partials: FoundPartial[] = [];
  for (const name of await listNames(layout.partial)) {
    if (!isSha256Hex(name)) continue;
    const path = join(layout.partial, name);
    const info = await statFile(path);
    if (!info) continue;
    if (info.size === 0 || verified.has(name)) {
      await rm(path, { force: true });
      continue;
    }
    partials.push({ sha256: name, bytes: info.size, lastUsed: info.mtimeMs });
  }
  return { objects, partials };
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
}

/** The stat of a regular file, or null when it is gone or not a regular file. */
async function statFile(
  path: string,
): Promise<{ size: number; atimeMs: number; mtimeMs: number } | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info : null;
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw err;
  }
}

/** Length of the file at `path`, 0 when there is none. */
export async function fileLength(path: string): Promise<number> {
  return (await statFile(path))?.size ?? 0;
}
