/**
 * Reconnect delays: exponential with jitter, so a gateway that restarts is
 * not hit by all of its clients in the same millisecond ("thundering herd"),
 * and a gateway that stays down is asked less and less often.
 */

export interface BackoffOptions {
  /** The shortest delay, and the base of the doubling. */
  minMs: number;
  /** The longest delay. */
  maxMs: number;
}

/**
 * The delay before attempt `failures + 1`: random between `minMs` and
 * `minMs · 2^(failures+1)`, capped at `maxMs`. The floor stays at `minMs`
 * so a retry never comes at once, even with bad luck.
 */
export function backoffDelay(
  failures: number,
  { minMs, maxMs }: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(failures + 1, 30));
  const floor = Math.min(minMs, ceiling);
  return Math.round(floor + random() * (ceiling - floor));
}
