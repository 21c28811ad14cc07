/**
 * Walks the files under an fs target whose keys start with a prefix. Only the
 * directory the prefix names is read, not the whole tree: "game/1.2/hua"
 * starts in <root>/game/1.2 and keeps the entries whose names start with "hua".
 * The driver's own area (`.gamedock/`) is never entered.
 */
import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../../core/index.js";
import { isStoreKey } from "../keys.js";

export interface WalkedFile {
  /** Key of the file: its path under the root, '/'-separated. */
  key: string;
  path: string;
  name: string;
}

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    // No such directory: nothing has been stored under that prefix.
    if (["ENOENT", "ENOTDIR"].includes(errnoCode(err) ?? "")) return [];
    throw err;
  }
}

async function* walkDir(
  dir: string,
  keyBase: string,
  nameStart: string,
): AsyncGenerator<WalkedFile> {
  for (const entry of await entriesOf(dir)) {
    if (!entry.name.startsWith(nameStart)) continue;
    const path = join(dir, entry.name);
    const key = keyBase + entry.name;
    if (entry.isDirectory()) {
      if (!isStoreKey(`${key}/`)) yield* walkDir(path, `${key}/`, "");
    } else if (entry.isFile() && !isStoreKey(key)) yield { key, path, name: entry.name };
  }
}

/** Regular files (symlinks and other types are skipped) under `root` whose key starts with `prefix`. */
export function walkFiles(root: string, prefix: string): AsyncGenerator<WalkedFile> {
  const dirs = prefix.split("/");
  const nameStart = dirs.pop() ?? "";
  const keyBase = dirs.length > 0 ? `${dirs.join("/")}/` : "";
  return walkDir(join(root, ...dirs), keyBase, nameStart);
}
