/**
 * The record of a started tool, `<sandbox>.logs/run.json`: its process group,
 * when the leader started (so a pid the system reused for another process is
 * never taken for it) and the executor process that ran it. abandoned.ts
 * reads them; the launcher writes them. Only node: imports (the launcher
 * stays small).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const RUN_RECORD = "run.json";

export interface RunRecord {
  pgid: number;
  /** Field 22 of /proc/<pgid>/stat: when the leader started, in clock ticks since boot. */
  startTicks: string | null;
  /** The executor process that ran it. */
  owner: number;
}

export function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Writes the record as the tool starts. Synchronous on purpose: two small
 * local file operations, in the launcher, whose only work this is.
 */
export function writeRunRecord(logsDir: string, pgid: number, owner: number): void {
  const record: RunRecord = { pgid, startTicks: startTicks(pgid), owner };
  writeFileSync(join(logsDir, RUN_RECORD), JSON.stringify(record));
}

/** The record in `logsDir`, or null when there is none (the tool never started, or is starting). */
export function readRunRecord(logsDir: string): RunRecord | null {
  try {
    return JSON.parse(readFileSync(join(logsDir, RUN_RECORD), "utf8")) as RunRecord;
  } catch {
    return null;
  }
}
