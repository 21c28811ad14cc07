/**
 * One staging cache per directory: two executors configured with the same
 * --cache would append to each other's partial files and evict each other's
 * pinned inputs. The `owner` file names the holder ("host/pid/token"); a
 * holder that is gone (a process of this host that no longer runs, after
 * `kill -9`) is replaced at once, so a restart never waits.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GamedockError, errnoCode, newOwnerName, ownerProcessState } from "../../core/index.js";

/** Owner names of the caches this process has open. */
const openHere = new Set<string>();

export interface DirLock {
  release(): Promise<void>;
}

export async function lockCacheDir(dir: string): Promise<DirLock> {
  const path = join(dir, "owner");
  const owner = newOwnerName();
  for (let attempt = 1; ; attempt++) {
    try {
      await writeFile(path, owner, { flag: "wx" });
      break;
    } catch (err) {
      if (errnoCode(err) !== "EEXIST" || attempt > 2) throw err;
    }
    const holder = (await readFile(path, "utf8").catch(() => "")).trim();
    const state = holder === "" ? "gone" : ownerProcessState(holder);
    const holderGone = state === "gone" || (state === "this-process" && !openHere.has(holder));
    if (!holderGone) {
      throw new GamedockError(
        "E_CONFIG",
        `the staging cache ${dir} is in use by ${holder}; give each executor its own --cache ` +
          `directory (or delete ${path} if that process is gone)`,
        { dir, owner: holder },
      );
    }
    await rm(path, { force: true });
  }
  openHere.add(owner);
  return {
    async release() {
      if (!openHere.delete(owner)) return;
      const holder = (await readFile(path, "utf8").catch(() => "")).trim();
      if (holder === owner) await rm(path, { force: true });
    },
  };
}
