/**
 * Backoff for retries. The queue only keeps the delay a caller asks for
 * (`delivery.retry({ delayMs })`); this is how callers choose that delay.
 */

export interface RetryPolicy {
  /** Attempts in all, the first one included (≥ 1). */
  maxAttempts: number;
  /** Delay before the second attempt, ms. */
  initialMs: number;
  /** Multiplier from one delay to the next (≥ 1). */
  factor: number;
  /** Longest delay, ms. */
  maxMs: number;
}

export interface BackoffOptions {
  /**
   * Spread each delay uniformly by ±this fraction (0 ≤ jitter < 1), so that
   * many messages failing together do not come back together. Off (0) by
   * default, which keeps delays deterministic.
   */
  jitter?: number;
  /** Source of randomness in [0, 1), for tests. */
  random?: () => number;
}

/**
 * Delay before retrying after failed attempt number `attempt` (1-based):
 * `initialMs * factor^(attempt-1)`, capped at `maxMs`, then jittered if asked.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  options: BackoffOptions = {},
): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const raw = policy.initialMs * Math.pow(policy.factor, exponent);
  // pow overflows to Infinity for large attempts; the cap still applies.
  const capped = Math.min(policy.maxMs, Number.isFinite(raw) ? raw : policy.maxMs);
  const jitter = Math.min(Math.max(options.jitter ?? 0, 0), 0.99);
  if (jitter === 0) return Math.round(capped);
  const random = options.random ?? Math.random;
  const spread = 1 + jitter * (2 * random() - 1);
  return Math.max(0, Math.round(capped * spread));
}

/** Whether a message that just failed attempt `attempt` may be tried again. */
export function canRetry(attempt: number, policy: RetryPolicy): boolean {
  return attempt < policy.maxAttempts;
}
