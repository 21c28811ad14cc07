/**
 * The Redis (BullMQ) driver against the conformance suite on a real Redis,
 * under a key prefix unique to this run, plus its connection errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openQueueBackend } from "../../src/queue/index.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { queueConformance } from "./conformance.js";

const skip = await skipUnlessService("redis");
const prefix = uniquePrefix("queue");

const deleteRunKeys = (): Promise<void> => dropRedisPrefix(prefix);

queueConformance({
  title: "redis",
  skip,
  // A short lock, so the stalled check hands a killed worker's job over quickly.
  config: { driver: "redis", url: SERVICES.redis.url, prefix, lockMs: 1500 },
  cleanup: deleteRunKeys,
});

describe("redis queue driver", () => {
  it("reports an unreachable server as E_SERVICE_UNAVAILABLE without the password", async () => {
    const url = "redis://:s3cret-pw@127.0.0.1:1/0";
    await assert.rejects(
      openQueueBackend({ driver: "redis", url, prefix, lockMs: 1500 }),
      (err: unknown) => {
        assert.ok(err instanceof Error && "code" in err);
        assert.equal(err.code, "E_SERVICE_UNAVAILABLE");
        assert.match(err.message, /127\.0\.0\.1:1/);
        assert.ok(!err.message.includes("s3cret-pw"), err.message);
        return true;
      },
    );
  });

  it("refuses a non-redis URL with E_CONFIG", async () => {
    await assert.rejects(
      openQueueBackend({ driver: "redis", url: "http://127.0.0.1:6379", prefix, lockMs: 1500 }),
      { code: "E_CONFIG" },
    );
  });
});
