/**
 * The staging cache's size bound: least recently used files are evicted for
 * new ones, leased files are pinned, an acquire that needs room waits for a
 * release (or its signal), sets that can never fit fail at once with both
 * sizes, and many acquires that together exceed the cache all finish.
 * Sizes are tiny (a cap of 100 bytes) so eviction is easy to follow.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type { InputRef, StagingCache } from "../../src/cluster/staging/index.js";
import { ManualClock, isGamedockError } from "../../src/core/index.js";
import { removeDir } from "../helpers/cli.js";
import {
  ByteServer,
  cacheOver,
  never,
  randomContent,
  waitFor,
  type TestCache,
} from "./staging-helpers.js";

const CAP = 100;

describe("staging cache: room", () => {
  let server: ByteServer;
  const opened: TestCache[] = [];
  const open = async (clock = new ManualClock(1_000_000)): Promise<StagingCache> => {
    const made = await cacheOver(server, { maxBytes: CAP, clock });
    opened.push(made);
    return made.cache;
  };
  const input = (size: number): InputRef => server.add(randomContent(size));
  const fetches = (ref: InputRef): number => server.requestsFor(ref.sha256).length;

  before(async () => {
    server = await ByteServer.start();
  });
  after(async () => {
    for (const { cache, dir } of opened) {
      await cache.close();
      await removeDir(dir);
    }
    await server.close();
  });

  it("evicts the least recently used file to make room", async () => {
    const clock = new ManualClock(1_000_000);
    const cache = await open(clock);
    const [a, b, c] = [input(40), input(40), input(40)];
    const use = async (ref: InputRef): Promise<string> => {
      clock.advance(1000);
      const lease = await cache.acquire([ref], never());
      lease.release();
      return lease.pathOf(ref.sha256);
    };
    const pathA = await use(a);
    const pathB = await use(b);
    await use(a); // a is now more recent than b
    await use(c); // 40 more than the 20 free: b goes
    assert.equal(cache.stats().files, 2);
    assert.equal(cache.stats().bytes, 80);
    await waitFor(() => !existsSync(pathB), "the evicted file to be deleted");
    assert.ok(existsSync(pathA));
    await use(a);
    assert.equal(fetches(a), 1, "a stayed cached");
    await use(b);
    assert.equal(fetches(b), 2, "b was evicted and is fetched again");
  });

  it("never evicts a leased file: an acquire that needs its room waits for the release", async () => {
    const cache = await open();
    const [a, b] = [input(60), input(60)];
    const leaseA = await cache.acquire([a], never());
    let admitted = false;
    const waiting = cache.acquire([b], never()).then((lease) => {
      admitted = true;
      return lease;
    });
    await sleep(100);
    assert.equal(admitted, false, "b waits while a is leased");
    assert.equal(fetches(b), 0);
    assert.ok(existsSync(leaseA.pathOf(a.sha256)), "a is still there");
    leaseA.release();
    const leaseB = await waiting;
    assert.equal(cache.stats().files, 1);
    assert.ok(cache.stats().bytes <= CAP);
    leaseB.release();
  });

  it("stops waiting for room when the signal aborts, with its reason", async () => {
    const cache = await open();
    const [a, b] = [input(70), input(70)];
    const leaseA = await cache.acquire([a], never());
    const controller = new AbortController();
    const waiting = cache.acquire([b], controller.signal);
    controller.abort(new Error("the task was cancelled"));
    await assert.rejects(waiting, /the task was cancelled/);
    // A timeout signal becomes E_STAGING_TIMEOUT.
    await assert.rejects(cache.acquire([b], AbortSignal.timeout(50)), (err: unknown) => {
      assert.ok(isGamedockError(err));
      assert.equal(err.code, "E_STAGING_TIMEOUT");
      return true;
    });
    assert.equal(fetches(b), 0);
    leaseA.release();
    const leaseB = await cache.acquire([b], never());
    assert.equal(cache.stats().bytes, 70, "nothing was left reserved by the abandoned acquires");
    leaseB.release();
  });

  it("fails at once with E_CACHE_TOO_SMALL for an input larger than the cache", async () => {
    const cache = await open();
    const big = input(150);
    await assert.rejects(cache.acquire([big], never()), (err: unknown) => {
      assert.ok(isGamedockError(err));
      assert.equal(err.code, "E_CACHE_TOO_SMALL");
      assert.match(err.message, /150 bytes/);
      assert.match(err.message, /100 bytes/);
      return true;
    });
    assert.equal(fetches(big), 0);
  });

  it("fails at once with E_CACHE_TOO_SMALL for inputs that together exceed the cache", async () => {
    const cache = await open();
    const [a, b] = [input(60), input(60)];
    await assert.rejects(cache.acquire([a, b], never()), (err: unknown) => {
      assert.ok(isGamedockError(err));
      assert.equal(err.code, "E_CACHE_TOO_SMALL");
      assert.match(err.message, /120 bytes/);
      assert.match(err.message, /100 bytes/);
      return true;
    });
    assert.equal(fetches(a) + fetches(b), 0);
    // One content named twice (two sandbox paths) counts once.
    const lease = await cache.acquire([a, { ...a }], never());
    lease.release();
  });

  it("lets an acquire of cached files pass one that waits for room", async () => {
    const cache = await open();
    const [a, b, c, d] = [input(30), input(30), input(30), input(30)];
    const first = await cache.acquire([a, b], never());
    let admitted = false;
    const waiting = cache.acquire([c, d], never()).then((lease) => {
      admitted = true;
      return lease;
    });
    const third = await cache.acquire([a], never()); // cached: no room needed, no queue
    await sleep(50);
    assert.equal(admitted, false);
    first.release(); // b is now unpinned; a stays pinned by the third lease
    const second = await waiting;
    assert.ok(existsSync(third.pathOf(a.sha256)));
    assert.ok(cache.stats().bytes <= CAP);
    third.release();
    second.release();
  });

  it("keeps the most recently used files when it reopens with a smaller cap", async () => {
    const clock = new ManualClock(1_000_000);
    const first = await cacheOver(server, { maxBytes: CAP, clock });
    const [a, b, c] = [input(30), input(30), input(30)];
    for (const ref of [a, b, c, a]) {
      clock.advance(1000);
      (await first.cache.acquire([ref], never())).release();
    }
    await first.cache.close();
    // The last use is on disk (each file's atime): b is the least recent, then c.
    const second = await cacheOver(server, { dir: first.dir, maxBytes: 60, clock });
    opened.push(second);
    assert.equal(second.cache.stats().files, 2);
    for (const ref of [a, c]) (await second.cache.acquire([ref], never())).release();
    assert.equal(second.cache.stats().fetchedBytes, 0, "a and c were kept");
    (await second.cache.acquire([b], never())).release();
    assert.equal(second.cache.stats().fetchedBytes, 30, "b was evicted");
  });

  it("finishes every acquire when many together need more than the cache", async () => {
    const cache = await open();
    const pool = Array.from({ length: 6 }, () => input(30));
    let peak = 0;
    const task = async (index: number): Promise<void> => {
      const inputs = [pool[index % pool.length]!, pool[(index * 7 + 1) % pool.length]!];
      const lease = await cache.acquire(inputs, never());
      peak = Math.max(peak, cache.stats().bytes);
      await sleep(5); // the task runs
      lease.release();
    };
    await Promise.all(Array.from({ length: 24 }, (_, index) => task(index)));
    assert.ok(peak <= CAP, `peak ${peak} within the cap`);
    assert.ok(cache.stats().bytes <= CAP);
  });
});
