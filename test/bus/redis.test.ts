/**
 * The Redis driver against the bus conformance suite on a real Redis, under a
 * key prefix unique to this run; the dying consumer is a process killed with
 * SIGKILL. Plus its configuration and connection errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { busKeys, openBus, type BusConfig } from "../../src/bus/index.js";
import { SERVICES, dropRedisPrefix, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { busConformance } from "./conformance.js";
import { takeInChildAndKill } from "./helpers.js";

const skip = await skipUnlessService("redis");
const prefix = uniquePrefix("bus");
const config: BusConfig = { driver: "redis", url: SERVICES.redis.url, prefix };

const deleteRunKeys = (): Promise<void> => dropRedisPrefix(prefix);

busConformance({
  title: "redis",
  skip,
  open: () => openBus(config),
  takeAndDie: (_bus, stream, group, consumer, count) =>
    takeInChildAndKill(config, stream, group, consumer, count),
  async loseEverything(bus) {
    await deleteRunKeys();
    return bus;
  },
  cleanup: deleteRunKeys,
});

describe("redis bus driver", { skip }, () => {
  it("reports an unreachable server as E_SERVICE_UNAVAILABLE without the password", async () => {
    await assert.rejects(
      openBus({ driver: "redis", url: "redis://:s3cret-pw@127.0.0.1:1/0", prefix }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "E_SERVICE_UNAVAILABLE");
        assert.match(err.message, /127\.0\.0\.1:1/);
        assert.ok(!err.message.includes("s3cret-pw"), err.message);
        return true;
      },
    );
  });

  it("refuses a prefix with braces (the hash tags are the bus's) and a non-redis URL", async () => {
    await assert.rejects(openBus({ ...config, prefix: "game{1}" }), {
      code: "E_CONFIG",
      message: /prefix/,
    });
    await assert.rejects(openBus({ ...config, url: "http://127.0.0.1:6379" }), {
      code: "E_CONFIG",
    });
    await assert.rejects(openBus({ driver: "kafka" } as unknown as BusConfig), {
      code: "E_CONFIG",
      message: /memory.*redis/,
    });
  });

  it("runs its scripts again once the server forgot them (a restart: SCRIPT FLUSH)", async () => {
    const bus = await openBus(config);
    const admin = new Redis(SERVICES.redis.url);
    try {
      const stream = busKeys.gatewayStream("flushed");
      await bus.touchPresence(["flush-a"], "gw", 60_000);
      await bus.appendOnce(stream, Buffer.from("one"), busKeys.replied("flushed", "m1"), 60_000);
      await admin.script("FLUSH");
      await bus.touchPresence(["flush-a", "flush-b"], "gw", 60_000);
      const ids = await bus.appendOnceMany(
        stream,
        [{ payload: Buffer.from("two"), marker: busKeys.replied("flushed", "m2") }],
        60_000,
      );
      assert.equal(typeof ids[0], "string");
      const map = await bus.presence(["flush-a", "flush-b"]);
      assert.deepEqual([map.get("flush-a"), map.get("flush-b")], [["gw"], ["gw"]]);
    } finally {
      admin.disconnect();
      await bus.close();
      await deleteRunKeys();
    }
  });
});
