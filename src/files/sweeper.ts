/**
 * Removes what has expired: files whose expiresAt passed (row, then blob if
 * no other file uses it) and unfinished tus uploads (through the hook the tus
 * handler provides). Every instance may run a sweeper: each removal is one
 * statement that only one of them wins, and the losers see null and move on.
 */
import type { FilesContext } from "./context.js";
import { removeFile } from "./remove.js";

/** Rows fetched per round; a round repeats while it comes back full. */
const BATCH = 100;

export interface SweepHooks {
  /** Removes expired tus uploads (TusMount.sweepExpired); returns how many. */
  sweepUploads?: (now: Date) => Promise<number>;
}

export interface SweepResult {
  files: number;
  blobs: number;
  uploads: number;
}

export async function sweepOnce(
  ctx: FilesContext,
  hooks: SweepHooks = {},
  now = new Date(),
): Promise<SweepResult> {
  const result: SweepResult = { files: 0, blobs: 0, uploads: 0 };
  for (;;) {
    const expired = await ctx.metadata.expiredFiles(now, BATCH);
    let removedThisRound = 0;
    for (const file of expired) {
      const removed = await removeFile(ctx, file.id);
      if (!removed) continue; // another instance got there first
      removedThisRound += 1;
      if (removed.blobRemoved) result.blobs += 1;
    }
    result.files += removedThisRound;
    // A full batch may have more behind it; a batch nobody could remove would repeat forever.
    if (expired.length < BATCH || removedThisRound === 0) break;
  }
  if (hooks.sweepUploads) result.uploads = await hooks.sweepUploads(now);
  if (result.files > 0 || result.uploads > 0) {
    ctx.logger.info({ event: "files-swept", ...result }, "expired files and uploads removed");
  }
  return result;
}

export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** Sweeps every files.sweepIntervalMs; a failed sweep is logged and the next one tries again. */
export function startSweeper(ctx: FilesContext, hooks: SweepHooks = {}): Sweeper {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = (): void => {
    if (running || stopped) return; // a slow sweep is never overlapped by the next
    running = sweepOnce(ctx, hooks)
      .then(() => undefined)
      .catch((err: unknown) => {
        ctx.logger.error({ err, event: "sweep-failed" }, "sweeping expired files failed");
      })
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, ctx.settings.sweepIntervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
