/**
 * The Redis locker for tus uploads against a real Redis on 127.0.0.1:6379:
 * exclusive across locker instances (as across processes), release requests
 * reach the holder, token-checked release, renewal, timeouts, and the key
 * prefix (files.lockPrefix) that keeps two deployments on one Redis apart.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ERRORS } from "@tus/server";
import { Redis } from "ioredis";
import { createLogger, type Logger } from "../../src/core/index.js";
import {
  openRedisLocker,
  type RedisLocker,
  type RedisLockerOptions,
} from "../../src/files/tus/index.js";
import { startFilesServer } from "../helpers/files-server.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import { TusClient, idOf } from "./tus-kit.js";

const skip = await skipUnlessService("redis");
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("RedisLocker", { skip }, () => {
  let logger: Logger;
  let prefix = "";
  let admin: Redis;
  const lockers: RedisLocker[] = [];
  const newLocker = async (options: Partial<RedisLockerOptions> = {}): Promise<RedisLocker> => {
    const locker = await openRedisLocker({ url: SERVICES.redis.url, prefix, logger, ...options });
    lockers.push(locker);
    return locker;
  };

  before(async () => {
    logger = await createLogger({ level: "silent" });
    prefix = uniquePrefix("tuslock");
    admin = new Redis(SERVICES.redis.url);
  });
  after(async () => {
    await Promise.all(lockers.map((locker) => locker.close()));
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it("is exclusive across instances; a waiter asks the holder to release", async () => {
    // The waiter never retries by itself: only the unlock announcement can wake it.
    const [a, b] = await Promise.all([newLocker(), newLocker({ retryMs: 600_000 })]);
    const held = a.newLock("u1");
    let asked = 0;
    await held.lock(new AbortController().signal, () => {
      asked += 1;
    });
    let acquired = false;
    const waiting = b
      .newLock("u1")
      .lock(new AbortController().signal, () => undefined)
      .then(() => {
        acquired = true;
      });
    await sleep(300);
    assert.equal(acquired, false, "second lock waits");
    assert.ok(asked > 0, "the holder was asked to release");
    await held.unlock();
    await waiting;
    assert.equal(acquired, true, "the unlock woke the waiter");
  });

  it("does not free a lock that lapsed and was taken by someone else", async () => {
    const [a, b] = await Promise.all([newLocker({ ttlMs: 300 }), newLocker()]);
    const first = a.newLock("u2");
    await first.lock(new AbortController().signal, () => undefined);
    // Simulate the lapse: the key vanishes (holder stalled past its TTL), another takes it.
    await admin.del(`${prefix}:lock:u2`);
    const second = b.newLock("u2");
    await second.lock(new AbortController().signal, () => undefined);
    await first.unlock();
    assert.ok(await admin.get(`${prefix}:lock:u2`), "the new holder keeps its lock");
    await second.unlock();
    assert.equal(await admin.get(`${prefix}:lock:u2`), null);
  });

  it("renews its lock while held", async () => {
    const [a, b] = await Promise.all([
      newLocker({ ttlMs: 300 }),
      newLocker({ acquireTimeoutMs: 200 }),
    ]);
    const lock = a.newLock("u3");
    await lock.lock(new AbortController().signal, () => undefined);
    await sleep(900);
    const ttl = await admin.pttl(`${prefix}:lock:u3`);
    assert.ok(ttl > 0, `still held after 3 TTLs (pttl ${ttl})`);
    await assert.rejects(b.newLock("u3").lock(new AbortController().signal, () => undefined));
    await lock.unlock();
  });

  it("gives up when the request's signal aborts", async () => {
    const [a, b] = await Promise.all([newLocker(), newLocker({ acquireTimeoutMs: 600_000 })]);
    const lock = a.newLock("u4");
    await lock.lock(new AbortController().signal, () => undefined);
    const controller = new AbortController();
    setTimeout(() => {
      controller.abort();
    }, 150);
    await assert.rejects(
      b.newLock("u4").lock(controller.signal, () => undefined),
      (err: unknown) => {
        assert.equal((err as { status_code?: number }).status_code, 500);
        return true;
      },
    );
    await lock.unlock();
  });

  it("a lock whose holder died lapses after its TTL", async () => {
    const key = `${prefix}:lock:u5`;
    const dying = await newLocker({ ttlMs: 1500 });
    await dying.newLock("u5").lock(new AbortController().signal, () => undefined);
    await dying.close(); // stops renewing without unlocking, like a killed process
    const dead = await admin.get(key);
    assert.ok(dead, "the dead holder's lock is still there");
    // Nobody unlocks and nobody is left to ask: only the TTL can free it.
    let acquired = false;
    const waiting = (await newLocker({ retryMs: 50 }))
      .newLock("u5")
      .lock(new AbortController().signal, () => undefined)
      .then(() => {
        acquired = true;
      });
    // While the dead holder's token is in the key, the waiter has not got the lock
    // (getting it writes the waiter's own token there).
    assert.equal(await admin.get(key), dead);
    assert.equal(acquired, false, "not obtained while the dead lock is live");
    await waiting;
    assert.equal(acquired, true, "obtained once the dead lock lapsed");
    const now = await admin.get(key);
    assert.ok(now !== null && now !== dead, "the key holds the new holder's token");
  });

  it("keeps the locks of two prefixes apart (files.lockPrefix)", async () => {
    const [a, b, sameAsA] = await Promise.all([
      newLocker(),
      newLocker({ prefix: `${prefix}-other` }),
      newLocker({ acquireTimeoutMs: 300 }),
    ]);
    const first = a.newLock("u6");
    await first.lock(new AbortController().signal, () => undefined);
    // Another deployment's prefix: the same upload id is a different lock.
    const second = b.newLock("u6");
    await second.lock(new AbortController().signal, () => undefined);
    assert.ok(await admin.get(`${prefix}:lock:u6`));
    assert.ok(await admin.get(`${prefix}-other:lock:u6`));
    // The same prefix shares the lock: it stays taken.
    await assert.rejects(
      sameAsA.newLock("u6").lock(new AbortController().signal, () => undefined),
      (err: unknown) => err === ERRORS.ERR_LOCK_TIMEOUT,
    );
    await second.unlock();
    await first.unlock();
    await admin.del(`${prefix}-other:lock:u6`);
  });
});

describe("files.lockPrefix reaches the tus handler", { skip }, () => {
  it("names the Redis keys of a `gamedock files` server's upload locks", async () => {
    const lockPrefix = uniquePrefix("tusprefix");
    const admin = new Redis(SERVICES.redis.url);
    const server = await startFilesServer({
      files: { lockRedisUrl: SERVICES.redis.url, lockPrefix, sweepIntervalMs: 3_600_000 },
    });
    try {
      const client = new TusClient(server.url);
      const url = await client.start(1000);
      const id = idOf(url);
      // A PATCH that stalls holds the upload's lock until it is cut.
      const stalled = client.stalledPatch(url, 0, Buffer.alloc(1000), 100);
      let held: string | null = null;
      for (let attempt = 0; attempt < 200 && held === null; attempt++) {
        held = await admin.get(`${lockPrefix}:lock:${id}`);
        if (held === null) await sleep(25);
      }
      assert.ok(held, `the lock is under ${lockPrefix}:lock:<id>`);
      assert.equal(await admin.get(`gamedock:tus:lock:${id}`), null, "not under the default");
      stalled.cut();
      await stalled.response;
    } finally {
      await server.close();
      const keys = await admin.keys(`${lockPrefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
      await admin.quit();
    }
  });
});
