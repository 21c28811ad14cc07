/**
 * Temp files nobody will finish, in an fs target's temp directories
 * (<root>/.gamedock/tmp/<host>/). On this host a temp file is abandoned when
 * its writer's pid is gone (core's isAbandonedTemp). Another host's pids
 * cannot be checked from here — a root may be shared over the network — so
 * its temp files count as abandoned only when nothing wrote to them for
 * FOREIGN_TEMP_AGE_MS, longer than any write takes; that also clears the
 * directories of hosts that are gone for good (containers get new names).
 */
import { readdir, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, fsError, isTempName, removeAbandonedTemps } from "../../core/index.js";
import type { FsLayout } from "./fs-layout.js";

export const FOREIGN_TEMP_AGE_MS = 24 * 60 * 60 * 1000;

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (["ENOENT", "ENOTDIR"].includes(errnoCode(err) ?? "")) return [];
    throw fsError(err, dir, "temp directory");
  }
}

/** Removes another host's temp files untouched for FOREIGN_TEMP_AGE_MS; then its directory if empty. */
async function removeStaleTemps(dir: string, now: number): Promise<number> {
  let removed = 0;
  for (const name of await entries(dir)) {
    if (!isTempName(name)) continue;
    const path = join(dir, name);
    const stats = await stat(path).catch(() => null);
    if (stats === null || now - stats.mtimeMs < FOREIGN_TEMP_AGE_MS) continue;
    await rm(path, { force: true });
    removed++;
  }
  // A host that writes again recreates it (writeAtomically makes its temp directory).
  await rmdir(dir).catch(() => undefined);
  return removed;
}

/** Removes abandoned temp files of every host; returns how many. */
export async function removeAbandonedTempFiles(
  layout: FsLayout,
  now = Date.now(),
): Promise<number> {
  let removed = await removeAbandonedTemps(layout.tempDir).catch((err: unknown) => {
    throw fsError(err, layout.tempDir, "temp directory");
  });
  for (const host of await entries(layout.tempRoot)) {
    const dir = join(layout.tempRoot, host);
    if (dir !== layout.tempDir) removed += await removeStaleTemps(dir, now);
  }
  return removed;
}
