/**
 * Removes what has expired or was left behind, at start and every
 * files.sweepIntervalMs:
 *
 * - files whose expiresAt passed (row, then blob if no other file uses it);
 * - unfinished tus uploads, expired or orphaned (through the hook the tus
 *   handler provides);
 * - leftovers of writers that died on the files target (removeAbandoned:
 *   on fs, temp files of killed processes);
 * - multipart uploads of `PUT /files` that a killed process never finished
 *   (s3), once older than files.uploadTtlSeconds — no PUT lasts that long.
 *
 * Every instance may run a sweeper: each removal is one statement or one
 * idempotent store call that only one of them wins, and the losers move on.
 */
import { systemClock, type Clock } from "../core/index.js";
import type { FilesContext } from "./context.js";
import { removeFile } from "./remove.js";

/** Rows fetched per round; a round repeats while it comes back full. */
const BATCH = 100;

/** Where PUT /files streams its bytes (put-upload.ts). */
const PUT_PREFIX = "put/";

export interface SweepHooks {
  /** Removes expired and orphaned tus uploads (TusMount.sweepExpired); returns how many. */
  sweepUploads?: (now: Date) => Promise<number>;
}

export interface SweepResult {
  files: number;
  blobs: number;
  uploads: number;
  /** Leftovers of dead writers removed from the target (removeAbandoned). */
  abandoned: number;
  /** Multipart uploads of killed PUTs aborted. */
  stalePuts: number;
}

async function sweepExpiredFiles(ctx: FilesContext, now: Date, result: SweepResult): Promise<void> {
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
}

/** Multipart uploads under put/ begun before the upload TTL: their PUT died with its process. */
async function abortStalePuts(ctx: FilesContext, now: Date): Promise<number> {
  const before = now.getTime() - ctx.settings.uploadTtlSeconds * 1000;
  let aborted = 0;
  for (const upload of await ctx.store.incompleteUploads(PUT_PREFIX)) {
    if (upload.initiated.getTime() >= before) continue;
    await ctx.store.abortUpload(upload);
    aborted += 1;
  }
  return aborted;
}

export async function sweepOnce(
  ctx: FilesContext,
  hooks: SweepHooks = {},
  now = new Date(),
): Promise<SweepResult> {
  const result: SweepResult = { files: 0, blobs: 0, uploads: 0, abandoned: 0, stalePuts: 0 };
  await sweepExpiredFiles(ctx, now, result);
  if (hooks.sweepUploads) result.uploads = await hooks.sweepUploads(now);
  result.abandoned = await ctx.store.removeAbandoned();
  result.stalePuts = await abortStalePuts(ctx, now);
  if (Object.values(result).some((count) => count > 0)) {
    ctx.logger.info({ event: "files-swept", ...result }, "expired and abandoned uploads removed");
  }
  return result;
}

export interface Sweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

export interface SweeperOptions {
  /** What "now" is for each sweep (tests move a ManualClock instead of waiting). */
  clock?: Clock;
}

/**
 * Sweeps at once (leftovers of a crash before this start go now) and then
 * every files.sweepIntervalMs; a failed sweep is logged and the next one
 * tries again.
 */
export function startSweeper(
  ctx: FilesContext,
  hooks: SweepHooks = {},
  options: SweeperOptions = {},
): Sweeper {
  const clock = options.clock ?? systemClock;
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = (): void => {
    if (running || stopped) return; // a slow sweep is never overlapped by the next
    running = sweepOnce(ctx, hooks, new Date(clock.now()))
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
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
