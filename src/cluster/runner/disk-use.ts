/**
 * How much disk the tool has used in its sandbox, measured while it runs so a
 * runaway tool is stopped before it fills the executor's disk.
 *
 * What counts: every file and directory the tool made, each inode once (hard
 * links share one), at the larger of its length and its allocated blocks — a
 * sparse file counts at its length, since uploading it as an output would move
 * that many bytes. Staged inputs do not count: they are the cache's files.
 *
 * A measurement walks the whole tree (cheap for the small trees tools leave);
 * the next starts only after the previous ended, so a large tree slows the
 * watch down instead of piling walks up.
 */
import { inodeKey, walkTree } from "./tree-walk.js";

/** Between two measurements while the tool runs. */
export const DISK_POLL_MS = 200;

/** Bytes the tool has put in `sandbox`, not counting the inodes in `exclude`. */
export async function sandboxBytes(sandbox: string, exclude: ReadonlySet<string>): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  for await (const { stats } of walkTree(sandbox)) {
    const key = inodeKey(stats);
    if (exclude.has(key) || seen.has(key)) continue;
    seen.add(key);
    total += Math.max(stats.size, stats.blocks * 512);
  }
  return total;
}

export interface DiskWatch {
  /** Stops measuring; resolves when no measurement runs any more. */
  stop(): Promise<void>;
}

/**
 * Measures `sandbox` every `intervalMs` and calls `onOver(bytes)` once, the
 * first time the use passes `maxBytes`; then stops by itself.
 */
export function watchDiskUse(options: {
  sandbox: string;
  exclude: ReadonlySet<string>;
  maxBytes: number;
  onOver: (bytes: number) => void;
  intervalMs?: number;
}): DiskWatch {
  const interval = options.intervalMs ?? DISK_POLL_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const measure = async (): Promise<void> => {
    const bytes = await sandboxBytes(options.sandbox, options.exclude).catch(() => 0);
    if (stopped) return;
    if (bytes > options.maxBytes) {
      stopped = true;
      options.onOver(bytes);
      return;
    }
    schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => {
      running = measure();
    }, interval);
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
