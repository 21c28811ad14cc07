/**
 * One naming scheme for every temp file gamedock writes: `.gamedock-<pid>-<hex>.tmp`
 * in the directory of the file it becomes (so the final rename stays on one
 * file system). The pid says whose it is: a temp file of a process that no
 * longer exists will never be finished and can be removed; one of this process
 * is abandoned only when no write of ours holds it. Temp files being written
 * are also removed if the process exits mid-write (a second Ctrl-C).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { errnoCode } from "./errors.js";
import { processAlive } from "./process.js";

const TEMP_NAME = /^\.gamedock-(\d+)-[0-9a-f]+\.tmp$/;

/** Temp files this process is writing now. */
const writing = new Set<string>();
let exitHookInstalled = false;

export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** The pid in a temp file's name, or null when the name is not one of ours. */
export function tempOwnerPid(name: string): number | null {
  const pid = TEMP_NAME.exec(name)?.[1];
  return pid === undefined ? null : Number(pid);
}

/** A fresh temp path in `dir`, registered as being written until `releaseTemp`. */
export function claimTempPath(dir: string): string {
  const path = join(dir, `.gamedock-${process.pid}-${randomBytes(8).toString("hex")}.tmp`);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const temp of writing) rmSync(temp, { force: true });
    });
  }
  writing.add(path);
  return path;
}

/** The write of `path` is over (renamed into place or removed). */
export function releaseTemp(path: string): void {
  writing.delete(path);
}

/** A temp file nobody will finish: its writer died, or it is ours and no write of ours holds it. */
export function isAbandonedTemp(path: string): boolean {
  const pid = tempOwnerPid(basename(path));
  if (pid === null) return false;
  if (pid === process.pid) return !writing.has(path);
  return !processAlive(pid);
}

/** Removes the abandoned temp files directly in `dir`; returns how many. A missing dir has none. */
export async function removeAbandonedTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (["ENOENT", "ENOTDIR"].includes(errnoCode(err) ?? "")) return 0;
    throw err;
  }
  let removed = 0;
  for (const name of names) {
    const path = join(dir, name);
    if (isAbandonedTemp(path)) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}
