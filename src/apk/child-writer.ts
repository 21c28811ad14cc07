/**
 * Writes a child APK: a kernel copy of the mother (reflink or copy_file_range,
 * see kernel-copy.ts), then the planned tail written over the old one, all in
 * a temp file in the output directory that is renamed into place only when
 * complete. Any failure removes the temp file.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsError } from "../core/errors.js";
import type { ChildPlan } from "./child-plan.js";
import { CopyInterrupted, kernelCopy } from "./kernel-copy.js";

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
    // No byte of the mother passes through this process.
    await kernelCopy(motherPath, temp);
    const handle = await open(temp, "r+");
    try {
      await handle.write(plan.tail, 0, plan.tail.length, plan.keepBytes);
      // Truncate only when the tail shrank: ext4 runs its truncate path even for
      // an unchanged size, and there is nothing to cut.
      if ((await handle.stat()).size > plan.size) await handle.truncate(plan.size);
    } finally {
      await handle.close();
    }
    await rename(temp, outPath);
  } catch (err) {
    await rm(temp, { force: true });
    if (err instanceof CopyInterrupted) throw err;
    throw fsError(err, outPath, "child APK");
  }
}
