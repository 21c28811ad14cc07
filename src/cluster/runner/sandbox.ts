/**
 * The sandbox directory of one run and its sibling logs directory: created
 * fresh, filled with the task's inputs, removed afterwards.
 *
 * Inputs are hard links to the staging cache's verified files (mode 0444): no
 * bytes move, whatever the size. Only when the cache is on another file
 * system (EXDEV) is the file copied. Removal only unlinks — a chmod on a
 * linked input would change the cache's own inode.
 */
import { constants } from "node:fs";
import { chmod, copyFile, link, lstat, mkdir, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import {
  GamedockError,
  directoryError,
  errnoCode,
  fsError,
  makeDirectory,
} from "../../core/index.js";
import type { SandboxInput } from "./contract.js";
import { insideRoot, relativeSegments } from "./relative-path.js";
import { inodeKey, walkTree } from "./tree-walk.js";

/** The logs of a run live beside its sandbox, where no output pattern can reach them. */
export const logsDirectoryOf = (sandbox: string): string => `${resolve(sandbox)}.logs`;

export interface StagedInputs {
  /** Relative paths ("/"-separated, normalised) where inputs were placed. */
  paths: Set<string>;
  /** `dev:ino` of every placed input: the cache's files, not the tool's disk use. */
  inodes: Set<string>;
}

/** Checks every input path before anything is created; returns each with its segments. */
export function checkInputPaths(
  inputs: readonly SandboxInput[],
): { input: SandboxInput; segments: string[] }[] {
  return inputs.map((input) => ({ input, segments: relativeSegments(input.path, "input path") }));
}

/**
 * Creates `dir`, which must not exist yet (a leftover would mix an earlier
 * run's files into this one). Its parents are created level by level.
 */
export async function createFreshDirectory(dir: string, what: string): Promise<void> {
  // The parent (the executor's work directory) exists after the first run: try that first.
  const made = await mkdir(dir, { mode: 0o700 }).then(
    () => true,
    (err: unknown) => {
      // A missing parent, or a file in the way: makeDirectory makes it, or names what is wrong.
      if (["ENOENT", "ENOTDIR"].includes(errnoCode(err) ?? "")) return false;
      throw freshDirectoryError(dir, what, err);
    },
  );
  if (made) return;
  await makeDirectory(dirname(dir), directoryError(`parent of the ${what}`));
  await mkdir(dir, { mode: 0o700 }).catch((err: unknown) => {
    throw freshDirectoryError(dir, what, err);
  });
}

function freshDirectoryError(dir: string, what: string, err: unknown): GamedockError {
  const why =
    errnoCode(err) === "EEXIST"
      ? "it already exists; every run needs a fresh one"
      : (errnoCode(err) ?? String(err));
  return new GamedockError("E_PATH_INVALID", `${what} ${dir} cannot be created: ${why}`, {
    path: dir,
  });
}

/** Places every input at its path in `sandbox` (a real path); throws before the tool starts. */
export async function stageInputs(
  sandbox: string,
  inputs: readonly { input: SandboxInput; segments: string[] }[],
  signal: AbortSignal,
): Promise<StagedInputs> {
  const staged: StagedInputs = { paths: new Set(), inodes: new Set() };
  for (const { input, segments } of inputs) {
    signal.throwIfAborted();
    const target = insideRoot(sandbox, segments, "input path");
    // Below the fresh sandbox recursive mkdir is safe; only directories we make exist yet.
    await mkdir(dirname(target), { recursive: true }).catch((err: unknown) => {
      throw placementError(input, err);
    });
    await placeInput(input.source, target).catch((err: unknown) => {
      throw placementError(input, err);
    });
    staged.paths.add(segments.join("/"));
    staged.inodes.add(inodeKey(await lstat(target)));
  }
  return staged;
}

async function placeInput(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch (err) {
    if (errnoCode(err) !== "EXDEV") throw err;
    // Another file system: a copy (a reflink where the file system can), keeping mode 0444.
    await copyFile(source, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  }
}

function placementError(input: SandboxInput, err: unknown): unknown {
  switch (errnoCode(err)) {
    case "EEXIST":
    case "ENOTDIR":
      return new GamedockError(
        "E_PATH_INVALID",
        `input path ${JSON.stringify(input.path)} collides with another input (a duplicate, or a file where a directory is needed)`,
        { path: input.path },
      );
    default:
      return fsError(err, input.source, `input ${JSON.stringify(input.path)}`);
  }
}

/**
 * Removes `dir` and everything in it. A tool may have left directories it
 * cannot be removed from (mode 0500, 000): when the plain removal fails,
 * those are given back u+rwx and it is tried again. Files are never chmod-ed:
 * inputs share their inode with the cache.
 */
export async function removeTree(dir: string): Promise<void> {
  // Most runs leave nothing locked: one removal, no walk of our own first.
  const removed = await rm(dir, { recursive: true, force: true }).then(
    () => true,
    () => false,
  );
  if (removed) return;
  const top = await lstat(dir).catch(() => null);
  if (top === null) return;
  if (top.isDirectory()) {
    await chmod(dir, 0o700);
    // A directory the walk reaches is opened up before the walk reads it.
    for await (const entry of walkTree(dir)) {
      if (entry.stats.isDirectory()) await chmod(entry.abs, 0o700).catch(() => undefined);
    }
  }
  await rm(dir, { recursive: true, force: true });
}
