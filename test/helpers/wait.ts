/** Waiting in tests: a sleep, and polling for a condition with a generous deadline (never a timing assertion). */

/** Generous ceiling for anything to happen on two loaded cores. */
export const PATIENCE_MS = 20_000;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds; fails after a generous deadline, never sooner. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
