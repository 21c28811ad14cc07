/** Where a job's children wait between the pack and upload stages. */
import { join } from "node:path";
import type { JobRow, TaskRow } from "./store/index.js";

export function jobWorkDir(workDir: string, job: Pick<JobRow, "id">): string {
  return join(workDir, job.id);
}

export function childWorkPath(workDir: string, job: Pick<JobRow, "id">, task: TaskRow): string {
  if (task.file_name === null)
    throw new Error(`task ${task.job_id}/${task.channel} has no file name`);
  return join(jobWorkDir(workDir, job), task.file_name);
}
