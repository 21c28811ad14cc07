/**
 * Writes a child APK: a kernel copy of the mother (reflink or copy_file_range
 * through fs.copyFile), then the planned tail written over the old one, all in
 * a temp file in the output directory that is renamed into place only when
 * complete. Any failure removes the temp file.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsError } from "../core/errors.js";
import type { ChildPlan } from "./child-plan.js";

export const TEMP_PREFIX = ".gamedock-";
export const TEMP_SUFFIX = ".tmp";

export function tempPathFor(outPath: string): string {
  const id = randomBytes(6).toString("hex");
  return join(dirname(outPath), `${TEMP_PREFIX}${basename(outPath)}.${id}${TEMP_SUFFIX}`);
}

export async function writeChild(
  motherPath: string,
  plan: ChildPlan,
  outPath: string,
): Promise<void> {
  const temp = tempPathFor(outPath);
  try {
    // FICLONE asks for a reflink and falls back to an in-kernel copy where the
    // file system cannot share extents; either way no bytes pass through us.
    await copyFile(motherPath, temp, constants.COPYFILE_FICLONE);
    const handle = await open(temp, "r+");
    try {
      await handle.write(plan.tail, 0, plan.tail.length, plan.keepBytes);
      await handle.truncate(plan.size);
    } finally {
      await handle.close();
    }
    await rename(temp, outPath);
  } catch (err) {
    await rm(temp, { force: true });
    throw fsError(err, outPath, "child APK");
  }
}
