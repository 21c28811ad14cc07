/**
 * The work directory holds one folder per job with children between packing
 * and uploading. Temp files of processes that died (`kill -9` mid-copy) are
 * removed, and so is the folder of a job that has finished (a retry packs
 * again). Runs at start-up and with every recovery sweep.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, removeAbandonedTemps } from "../core/index.js";
import type { PackerContext } from "./context.js";

export async function cleanWorkDir(ctx: PackerContext): Promise<void> {
  const { workDir } = ctx.settings;
  let entries;
  try {
    entries = await readdir(workDir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return;
    throw err;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = join(workDir, entry.name);
    const job = await ctx.store.jobs.get(entry.name);
    if (!job || job.finished_at !== null) {
      await rm(dir, { recursive: true, force: true });
    } else {
      await removeAbandonedTemps(dir);
    }
  }
}

/**
 * Temp files that writers killed mid-upload left in the fs upload targets
 * (`kill -9` during an upload of a child): removed at start-up and with every
 * recovery sweep. s3 targets keep nothing a dead process could be proven to
 * own; their orphaned multipart uploads are aborted by key after an upload.
 */
export async function sweepTargets(ctx: PackerContext): Promise<number> {
  let removed = 0;
  for (const [name, config] of Object.entries(ctx.targetConfigs)) {
    if (config.driver !== "fs") continue;
    removed += await (await ctx.target(name)).removeAbandoned();
  }
  return removed;
}
