/**
 * Runs `work(item, slot)` over `items`, at most `concurrency` at once. After
 * the first failure or an abort no new item starts; the ones running finish
 * (a part already on its way is worth keeping for a resume), then the abort
 * reason or the first failure is thrown. `slot` (0…concurrency-1) lets each
 * worker reuse its own buffer.
 */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, slot: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (slot: number): Promise<void> => {
    while (!failed && !signal?.aborted && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item, slot);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, (_, slot) => worker(slot)));
  signal?.throwIfAborted();
  if (failed) throw firstError;
}
