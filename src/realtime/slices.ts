/**
 * Periodic work over every connection (presence refreshes, pings) done in
 * slices spread over its interval: touching 5,000 uids or pinging 5,000
 * sockets in one go stalled the event loop for 150–300 ms and queued
 * thousands of Redis calls ahead of requests (bench:realtime). A key's
 * slice is fixed by a hash, so each key is visited once per interval.
 */
export const SLICES = 10;

/** The slice (0..SLICES-1) a key belongs to. */
export function sliceOf(key: string): number {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return (hash >>> 0) % SLICES;
}

/**
 * Calls `run(slice)` every interval / SLICES ms, slice going 0, 1, … round
 * and round; returns the timer. A run still going when the next is due is
 * not doubled: that slice waits for the next round.
 */
export function everySlice(
  intervalMs: number,
  run: (slice: number) => Promise<void> | void,
): NodeJS.Timeout {
  let slice = 0;
  let running = false;
  return setInterval(
    () => {
      const current = slice;
      slice = (slice + 1) % SLICES;
      if (running) return;
      running = true;
      void Promise.resolve(run(current)).finally(() => {
        running = false;
      });
    },
    Math.max(10, Math.floor(intervalMs / SLICES)),
  );
}
