/**
 * Writes a child APK: a kernel copy of the mother (reflink or copy_file_range,
 * core/kernel-copy.ts), then the planned tail written over the old one, all in
 * a temp file in the output directory that is renamed into place only when
 * complete. Any failure removes the temp file.
 */
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import {
  CopyInterrupted,
  GamedockError,
  claimTempPath,
  errnoCode,
  fsError,
  kernelCopy,
  releaseTemp,
} from "../core/index.js";
import type { ChildPlan } from "./child-plan.js";

/** Writes every piece at `position`, looping over short writes. */
async function writeFully(handle: FileHandle, pieces: Buffer[], position: number): Promise<void> {
  let at = position;
  for (const piece of pieces) {
    let done = 0;
    while (done < piece.length) {
      const { bytesWritten } = await handle.write(piece, done, piece.length - done, at + done);
      if (bytesWritten === 0) {
        throw Object.assign(new Error("write made no progress"), { code: "ENOSPC" });
      }
      done += bytesWritten;
    }
    at += piece.length;
  }
}

export async function writeChild(
  motherPath: string,
  plan: ChildPlan,
  outPath: string,
): Promise<void> {
  // Named `.gamedock-<pid>-<hex>.tmp` (core/temp-files.ts): a run killed with -9
  // leaves one, and the next run (or the packer's sweep) knows it is dead.
  const temp = claimTempPath(dirname(outPath));
  try {
    // No byte of the mother passes through this process.
    await kernelCopy(motherPath, temp);
    const handle = await open(temp, "r+");
    try {
      await writeFully(handle, plan.tail, plan.keepBytes);
      // Truncate only when the tail shrank: ext4 runs its truncate path even for
      // an unchanged size, and there is nothing to cut.
      let { size } = await handle.stat();
      if (size > plan.size) {
        await handle.truncate(plan.size);
        size = plan.size;
      }
      if (size !== plan.size) {
        throw new GamedockError(
          "E_INTERNAL",
          `child for ${outPath} is ${size} bytes, expected ${plan.size}; it was not kept`,
        );
      }
    } finally {
      await handle.close();
    }
    await rename(temp, outPath);
    releaseTemp(temp);
  } catch (err) {
    await rm(temp, { force: true });
    releaseTemp(temp);
    if (err instanceof CopyInterrupted || err instanceof GamedockError) throw err;
    if (errnoCode(err) === "ENOENT") {
      throw new GamedockError(
        "E_NOT_FOUND",
        `cannot write ${outPath}: ${motherPath} or the directory ${dirname(outPath)} does not exist`,
        { path: outPath },
      );
    }
    throw fsError(err, outPath, "child APK");
  }
}
