import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, canRetry, type RetryPolicy } from "../../src/queue/index.js";

const policy: RetryPolicy = { maxAttempts: 5, initialMs: 1000, factor: 2, maxMs: 5000 };

describe("retry policy", () => {
  it("grows the delay exponentially from initialMs and caps it at maxMs", () => {
    const delays = [1, 2, 3, 4, 5, 60].map((attempt) => backoffDelay(attempt, policy));
    assert.deepEqual(delays, [1000, 2000, 4000, 5000, 5000, 5000]);
    assert.equal(backoffDelay(5000, { ...policy, maxMs: 1e9 }), 1e9, "no overflow past the cap");
  });

  it("is deterministic unless jitter is asked for, and jitter stays within ±its fraction", () => {
    assert.equal(backoffDelay(2, policy), backoffDelay(2, policy));
    assert.equal(backoffDelay(2, policy, { jitter: 0.1, random: () => 0 }), 1800);
    assert.equal(backoffDelay(2, policy, { jitter: 0.1, random: () => 0.5 }), 2000);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, policy, { jitter: 0.2 });
      assert.ok(delay >= 3200 && delay <= 4800, String(delay));
    }
  });

  it("allows retries until maxAttempts attempts were made", () => {
    assert.equal(canRetry(4, policy), true);
    assert.equal(canRetry(5, policy), false);
  });
});
