import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { GamedockError } from "../../src/core/index.js";
import { createSink, isNotifyEvent, type Sink } from "../../src/notify/index.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { channelDone, channelFailed } from "./events.js";
import { deadPort } from "./receiver.js";

const skip = await skipUnlessService("redis");

describe("redis sink", { skip }, () => {
  const prefix = uniquePrefix("notify");
  const list = `${prefix}:events`;
  let redis: Redis;
  before(() => {
    redis = new Redis(SERVICES.redis.url);
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("LPUSHes the event JSON; the consumer pops oldest first", async () => {
    const sink = await createSink("game-list", { type: "redis", url: SERVICES.redis.url, list });
    try {
      await sink.send(channelDone);
      await sink.send(channelFailed);
    } finally {
      await sink.close();
    }
    const stored = await redis.lrange(list, 0, -1);
    assert.equal(stored.length, 2);
    assert.deepEqual(JSON.parse(stored[1]!), channelDone);
    const oldest = await redis.rpop(list);
    const event: unknown = JSON.parse(oldest!);
    assert.ok(isNotifyEvent(event));
    assert.deepEqual(event, channelDone); // Chinese names survive the round trip
    assert.deepEqual(JSON.parse((await redis.rpop(list))!), channelFailed);
  });

  it(
    "fails fast with E_NOTIFY_FAILED on a dead Redis, naming the URL without the password",
    {
      timeout: 5000,
    },
    async () => {
      const port = await deadPort();
      const sink = await createSink("dead", {
        type: "redis",
        url: `redis://:hunter2@127.0.0.1:${port}/0`,
        list,
      });
      try {
        await assert.rejects(sink.send(channelDone), (err: unknown) => {
          assert.ok(err instanceof GamedockError);
          assert.equal(err.code, "E_NOTIFY_FAILED");
          assert.ok(err.message.includes(`redis://127.0.0.1:${port}/0`), err.message);
          assert.match(err.message, /ECONNREFUSED/);
          assert.ok(!err.message.includes("hunter2"));
          assert.equal(err.retryable, true);
          assert.equal(err.details?.sink, "dead");
          return true;
        });
      } finally {
        await sink.close();
      }
    },
  );

  it("fails permanently when the list key holds another type", async () => {
    const key = `${prefix}:not-a-list`;
    await redis.set(key, "x");
    const sink: Sink = await createSink("wrong", {
      type: "redis",
      url: SERVICES.redis.url,
      list: key,
    });
    try {
      await assert.rejects(sink.send(channelDone), (err: unknown) => {
        assert.ok(err instanceof GamedockError);
        assert.equal(err.code, "E_NOTIFY_PERMANENT");
        assert.match(err.message, /WRONGTYPE/);
        return true;
      });
    } finally {
      await sink.close();
    }
  });

  it("closes cleanly without ever having connected", async () => {
    // A listener that counts connections stands in for Redis: a sink that never
    // sent must neither connect (to close) nor hang its closer.
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const sink = await createSink("idle", {
        type: "redis",
        url: `redis://127.0.0.1:${port}/0`,
        list,
      });
      await sink.close();
      await sink.close(); // twice: still fine
      assert.equal(connections, 0, "close opened no connection");
    } finally {
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });

  it("refuses a non-redis URL with E_CONFIG", async () => {
    await assert.rejects(
      createSink("bad", { type: "redis", url: "http://127.0.0.1:6379", list }),
      (err: unknown) => err instanceof GamedockError && err.code === "E_CONFIG",
    );
  });
});
