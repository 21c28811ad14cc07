/**
 * Runs an executor left behind when it was killed (`kill -9`): their sandboxes
 * stay on disk, and their tools go on running as orphans when the launcher
 * died too (it kills them when only the executor dies). Each run has a record
 * (run-record.ts); an executor starting on the same work directory kills the
 * groups of runs whose executor is gone and removes their directories.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, processAlive } from "../../core/index.js";
import { readRunRecord, startTicks } from "./run-record.js";
import { removeTree } from "./sandbox.js";

const LOGS_SUFFIX = ".logs";

/** Kills what runs of dead executors left in `workDir` and removes their directories; returns how many. */
export async function reapAbandonedRuns(workDir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(workDir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return 0;
    throw err;
  }
  let reaped = 0;
  for (const name of names.filter((n) => n.endsWith(LOGS_SUFFIX))) {
    const logsDir = join(workDir, name);
    const record = readRunRecord(logsDir);
    if (record === null) continue; // its tool never started, or is starting now
    // Ours, or a live executor's: not abandoned.
    if (record.owner === process.pid || processAlive(record.owner)) continue;
    const ticks = startTicks(record.pgid);
    if (ticks !== null && ticks === record.startTicks) {
      try {
        process.kill(-record.pgid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    await removeTree(join(workDir, name.slice(0, -LOGS_SUFFIX.length)));
    await removeTree(logsDir);
    reaped++;
  }
  return reaped;
}
