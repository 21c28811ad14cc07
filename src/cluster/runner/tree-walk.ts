/**
 * A walk of a directory tree that never follows a symbolic link: the sandbox
 * belongs to the tool, which may plant links to anywhere. Used by the disk-use
 * watch and by output collection.
 *
 * The tree changes under the walk while the tool runs: an entry that vanishes
 * between readdir and lstat is skipped, and so is a directory the walk cannot
 * read (the tool may chmod one to 000) — a walk is a best-effort snapshot.
 */
import type { Stats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../../core/index.js";

export interface TreeEntry {
  /** Path relative to the root, "/"-separated. */
  rel: string;
  /** Absolute path. */
  abs: string;
  /** lstat of the entry (a symlink is itself, not its target). */
  stats: Stats;
}

/** One key per inode: hard links to one file share it. */
export const inodeKey = (stats: { dev: number; ino: number }): string =>
  `${stats.dev}:${stats.ino}`;

/** Errors that mean "this part of the tree is gone or hidden now", not a failure of the walk. */
const SKIPPED = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM"]);

function skippable(err: unknown): null {
  if (SKIPPED.has(errnoCode(err) ?? "")) return null;
  throw err;
}

/**
 * Every entry below `root` (not the root itself): a directory's entries,
 * then those of its subdirectories. Names sort in code-unit order inside a
 * directory so walks are deterministic.
 */
export async function* walkTree(root: string): AsyncGenerator<TreeEntry> {
  const pending: { abs: string; rel: string }[] = [{ abs: root, rel: "" }];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const names = await readdir(dir.abs).catch(skippable);
    if (names === null) continue;
    names.sort();
    const subdirs: { abs: string; rel: string }[] = [];
    for (const name of names) {
      const abs = join(dir.abs, name);
      const rel = dir.rel === "" ? name : `${dir.rel}/${name}`;
      const stats = await lstat(abs).catch(skippable);
      if (stats === null) continue;
      yield { rel, abs, stats };
      if (stats.isDirectory()) subdirs.push({ abs, rel });
    }
    // Reversed so the pop order visits subdirectories in name order.
    pending.push(...subdirs.reverse());
  }
}
