/**
 * Writes a prepared pack with a bounded number of children in flight. On the
 * first failure (disk full, say) nothing new starts, children in flight finish
 * or remove their temp file, and the error is raised. On an abort (Ctrl-C) the
 * copies in flight are cut short too; either way only complete children remain.
 */
import { CopyInterrupted, asError } from "../core/index.js";
import { writeChild } from "./child-writer.js";
import type { PackPlan, PlannedChild } from "./pack-plan.js";

export interface ChildResult {
  channel: string;
  file: string;
  size: number;
  status: "written" | "skipped";
}

export interface RunOptions {
  concurrency: number;
  signal?: AbortSignal;
  onChild?: (result: ChildResult) => void;
}

export class PackAborted extends Error {
  constructor(readonly results: ChildResult[]) {
    super("pack interrupted");
  }
}

export async function runPack(pack: PackPlan, options: RunOptions): Promise<ChildResult[]> {
  const results: ChildResult[] = [];
  const queue: PlannedChild[] = [...pack.children];
  let failure: unknown = null;
  let interrupted = false;

  const finish = (child: PlannedChild, status: ChildResult["status"]): void => {
    const result = { channel: child.channel, file: child.path, size: child.plan.size, status };
    results.push(result);
    options.onChild?.(result);
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure !== null || interrupted || options.signal?.aborted) return;
      const child = queue.shift();
      if (!child) return;
      if (child.skip) {
        finish(child, "skipped");
        continue;
      }
      try {
        await writeChild(pack.mother, child.plan, child.path);
        finish(child, "written");
      } catch (err) {
        if (err instanceof CopyInterrupted || options.signal?.aborted) interrupted = true;
        else failure ??= err;
      }
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency, queue.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  if (failure !== null) throw asError(failure);
  if (interrupted || (options.signal?.aborted && queue.length > 0)) throw new PackAborted(results);
  // Report in the order channels were given, whatever order they finished in.
  const order = new Map(pack.children.map((c, i) => [c.channel, i]));
  return results.sort((a, b) => (order.get(a.channel) ?? 0) - (order.get(b.channel) ?? 0));
}
