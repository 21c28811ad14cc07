/**
 * Before a cached file is handed out again: is it still the verified file?
 * Sandboxes get hard links to the cache's own inode, and a tool running as
 * root (or one that chmods its input) can write through that link. A write
 * moves the mtime off VERIFIED_MTIME (and may change the size or the mode), so
 * a stat tells an untouched file apart at no cost; only a file that shows a
 * change is re-hashed. One that still matches is marked verified again; one
 * that does not is reported, and the cache drops it and fetches it anew.
 */
import { stat } from "node:fs/promises";
import { errnoCode } from "../../core/index.js";
import type { InputRef } from "./contract.js";
import { hashFile, markVerified } from "./download.js";
import { VERIFIED_MODE, VERIFIED_MTIME_MS } from "./layout.js";

export type ReuseVerdict = "intact" | "rehashed" | "changed" | "missing";

export async function checkCachedFile(
  path: string,
  ref: InputRef,
  now: number,
): Promise<ReuseVerdict> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return "missing";
    throw err;
  }
  if (info.size !== ref.size) return "changed";
  const untouched = info.mtimeMs === VERIFIED_MTIME_MS && (info.mode & 0o777) === VERIFIED_MODE;
  if (untouched) {
    await markVerified(path, now); // atime = last use, for LRU order after a restart
    return "intact";
  }
  if ((await hashFile(path)) !== ref.sha256) return "changed";
  await markVerified(path, now);
  return "rehashed";
}
