/**
 * Runs an executor left behind when it was killed (`kill -9`): their tools go
 * on running as orphans, and their sandboxes stay on disk. Each run records
 * its process group in `<sandbox>.logs/run.json` (with the leader's start time,
 * so a pid the system reused for another process is never taken for it, and
 * the executor's pid); an executor starting on the same work directory kills
 * the groups of runs whose executor is gone and removes their directories.
 */
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, processAlive } from "../../core/index.js";
import { removeTree } from "./sandbox.js";

interface RunRecord {
  pgid: number;
  /** Field 22 of /proc/<pgid>/stat: when the leader started, in clock ticks since boot. */
  startTicks: string | null;
  /** The executor process that ran it. */
  owner: number;
}

const RECORD = "run.json";
const LOGS_SUFFIX = ".logs";

async function startTicks(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Records the run's process group next to its logs (called once the tool has started). */
export async function recordRun(logsDir: string, pgid: number): Promise<void> {
  const record: RunRecord = { pgid, startTicks: await startTicks(pgid), owner: process.pid };
  await writeFile(join(logsDir, RECORD), JSON.stringify(record));
}

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
    let record: RunRecord | null = null;
    try {
      record = JSON.parse(await readFile(join(logsDir, RECORD), "utf8")) as RunRecord;
    } catch {
      continue; // no record: its tool never started, or is starting now
    }
    // Ours, or a live executor's: not abandoned.
    if (record.owner === process.pid || processAlive(record.owner)) continue;
    const ticks = await startTicks(record.pgid);
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
