/**
 * The staging cache's promises about content (src/cluster/staging/contract.ts):
 * verified before use, a mismatch caches nothing, one download however many
 * wait (and every waiter sees its failure), read-only files whose changes
 * through a hard link are caught before reuse. Real HTTP on loopback.
 */
import assert from "node:assert/strict";
import { link, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { httpInputSource, type StagingCache } from "../../src/cluster/staging/index.js";
import { isGamedockError } from "../../src/core/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import {
  ByteServer,
  cacheOver,
  cachedFiles,
  never,
  randomContent,
  type TestCache,
} from "./staging-helpers.js";

function hasCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(isGamedockError(err), `expected a GamedockError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe("staging cache: content", () => {
  let server: ByteServer;
  const opened: TestCache[] = [];
  const open = async (options: Parameters<typeof cacheOver>[1] = {}): Promise<StagingCache> => {
    const made = await cacheOver(server, options);
    opened.push(made);
    return made.cache;
  };
  const dirOf = (cache: StagingCache): string => opened.find((made) => made.cache === cache)!.dir;

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

  it("fetches an input, verifies it and hands it out read-only", async () => {
    const content = randomContent(300_000);
    const ref = server.add(content);
    const cache = await open();
    const lease = await cache.acquire([ref], never());
    const path = lease.pathOf(ref.sha256);
    assert.deepEqual(await readFile(path), content.bytes);
    assert.equal((await stat(path)).mode & 0o777, 0o444);
    assert.deepEqual(cache.stats(), {
      bytes: content.size,
      maxBytes: 64 * 1024 * 1024,
      files: 1,
      fetchedBytes: content.size,
    });
    lease.release();
    lease.release(); // idempotent
    const again = await cache.acquire(
      [{ sha256: ref.sha256.toUpperCase(), size: ref.size }],
      never(),
    );
    assert.equal(again.pathOf(ref.sha256), path);
    assert.equal(cache.stats().fetchedBytes, content.size, "a cached input is not fetched again");
    assert.equal(server.requestsFor(ref.sha256).length, 1);
    again.release();
  });

  it("rejects corrupt bytes with E_INPUT_DIGEST_MISMATCH, deletes them and caches nothing", async () => {
    const content = randomContent(200_000);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "corrupt" });
    const cache = await open();
    await assert.rejects(cache.acquire([ref], never()), (err: unknown) => {
      hasCode("E_INPUT_DIGEST_MISMATCH")(err);
      assert.match((err as Error).message, new RegExp(ref.sha256));
      return true;
    });
    assert.deepEqual(await cachedFiles(dirOf(cache)), []);
    assert.equal(cache.stats().bytes, 0);
    assert.equal(cache.stats().files, 0);
    // The source is fixed: the next acquire fetches the right bytes from the start.
    const lease = await cache.acquire([ref], never());
    assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
    assert.equal(server.requestsFor(ref.sha256).at(-1)?.range, undefined);
    lease.release();
  });

  it("rejects a size that does not match the served file before taking its bytes", async () => {
    const ref = server.add(randomContent(50_000));
    const cache = await open();
    const wrong = { sha256: ref.sha256, size: ref.size + 1 };
    await assert.rejects(cache.acquire([wrong], never()), (err: unknown) => {
      hasCode("E_INPUT_DIGEST_MISMATCH")(err);
      assert.match(
        (err as Error).message,
        new RegExp(`said to be ${ref.size + 1} bytes.*serves ${ref.size} bytes`),
      );
      return true;
    });
    assert.equal(cache.stats().fetchedBytes, 0);
    assert.deepEqual(await cachedFiles(dirOf(cache)), []);
  });

  it("rejects a body longer than the input's size and keeps nothing", async () => {
    const content = randomContent(40_000);
    const ref = server.add(content);
    // 10 kB too many, and no Content-Length to go by: the cache counts the bytes as they come.
    server.sizeSkew = 10_000;
    server.omitLength = true;
    try {
      const cache = await open();
      await assert.rejects(cache.acquire([ref], never()), hasCode("E_INPUT_DIGEST_MISMATCH"));
      assert.deepEqual(await cachedFiles(dirOf(cache)), []);
      assert.equal(cache.stats().bytes, 0);
    } finally {
      server.sizeSkew = 0;
      server.omitLength = false;
    }
  });

  it("shares one download among ten concurrent acquires of one digest", async () => {
    const content = randomContent(2 * 1024 * 1024);
    const ref = server.add(content);
    const cache = await open();
    const served = server.servedBytes;
    const leases = await Promise.all(
      Array.from({ length: 10 }, () => cache.acquire([ref], never())),
    );
    assert.equal(server.requestsFor(ref.sha256).length, 1, "one download");
    assert.equal(server.servedBytes - served, content.size);
    assert.equal(cache.stats().fetchedBytes, content.size);
    const paths = new Set(leases.map((lease) => lease.pathOf(ref.sha256)));
    assert.equal(paths.size, 1);
    assert.deepEqual(await readFile([...paths][0]!), content.bytes);
    for (const lease of leases) lease.release();
  });

  it("gives every waiter of a shared download its failure", async () => {
    const ref = server.add(randomContent(1024 * 1024));
    server.misbehave(ref.sha256, { kind: "corrupt" });
    const cache = await open();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => cache.acquire([ref], never())),
    );
    assert.equal(server.requestsFor(ref.sha256).length, 1, "one download");
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      hasCode("E_INPUT_DIGEST_MISMATCH")(outcome.reason);
    }
    assert.equal(cache.stats().bytes, 0);
  });

  it("keeps a shared download going when one of its waiters gives up", async () => {
    const content = randomContent(500_000);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "stall", after: 100_000 });
    // The stalled connection is dropped after 300 ms of silence and resumed.
    const source = httpInputSource({ baseUrl: server.url, idleTimeoutMs: 300 });
    const cache = await open({ source });
    const stalled = server.stalled();
    const quitter = new AbortController();
    const gaveUp = cache.acquire([ref], quitter.signal);
    const stays = cache.acquire([ref], never());
    await stalled;
    quitter.abort(new Error("this task was cancelled"));
    await assert.rejects(gaveUp, /this task was cancelled/);
    const lease = await stays;
    assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
    // One download went on: it resumed after the stall, never started over from byte 0.
    const [first, ...resumed] = server.requestsFor(ref.sha256);
    assert.equal(first?.range, undefined);
    assert.ok(resumed.length >= 1);
    for (const request of resumed) assert.match(request.range ?? "", /^bytes=\d+-$/);
    assert.equal(cache.stats().fetchedBytes, content.size);
    lease.release();
  });

  it("fails with E_INPUT_NOT_FOUND when the source has no such content", async () => {
    const missing = randomContent(10);
    const cache = await open();
    await assert.rejects(cache.acquire([missing], never()), (err: unknown) => {
      hasCode("E_INPUT_NOT_FOUND")(err);
      assert.match((err as Error).message, new RegExp(missing.sha256));
      return true;
    });
    assert.equal(cache.stats().bytes, 0);
  });

  it("refuses malformed inputs with E_INVALID_REQUEST", async () => {
    const cache = await open();
    await assert.rejects(
      cache.acquire([{ sha256: "abc", size: 1 }], never()),
      hasCode("E_INVALID_REQUEST"),
    );
    const sha256 = "a".repeat(64);
    await assert.rejects(
      cache.acquire([{ sha256, size: -1 }], never()),
      hasCode("E_INVALID_REQUEST"),
    );
    await assert.rejects(
      cache.acquire(
        [
          { sha256, size: 1 },
          { sha256, size: 2 },
        ],
        never(),
      ),
      hasCode("E_INVALID_REQUEST"),
    );
  });

  it("stages an empty input without asking the source", async () => {
    const empty = randomContent(0);
    const cache = await open();
    const lease = await cache.acquire([empty], never());
    assert.equal((await stat(lease.pathOf(empty.sha256))).size, 0);
    assert.equal(server.requestsFor(empty.sha256).length, 0);
    lease.release();
  });

  describe("a cached file changed through a hard link", () => {
    let sandbox = "";
    before(async () => {
      sandbox = await tempDir("gamedock-sandbox-");
    });
    after(async () => {
      await removeDir(sandbox);
    });

    it("is re-hashed, dropped and fetched again when its bytes changed", async () => {
      const content = randomContent(100_000);
      const ref = server.add(content);
      const cache = await open();
      const lease = await cache.acquire([ref], never());
      const linked = join(sandbox, "poisoned.bin");
      await link(lease.pathOf(ref.sha256), linked);
      // A tool running as root ignores the 0444 mode; write the same length, other bytes.
      await writeFile(linked, Buffer.alloc(content.size, 7));
      lease.release();

      const fetched = cache.stats().fetchedBytes;
      const again = await cache.acquire([ref], never());
      assert.deepEqual(await readFile(again.pathOf(ref.sha256)), content.bytes);
      assert.equal(cache.stats().fetchedBytes - fetched, content.size, "fetched again");
      assert.equal((await stat(again.pathOf(ref.sha256))).mode & 0o777, 0o444);
      again.release();
    });

    it("is re-hashed and kept when only its mtime changed", async () => {
      const content = randomContent(100_000);
      const ref = server.add(content);
      const cache = await open();
      const lease = await cache.acquire([ref], never());
      const path = lease.pathOf(ref.sha256);
      const linked = join(sandbox, "touched.bin");
      await link(path, linked);
      const verifiedMtime = (await stat(path)).mtimeMs;
      await utimes(linked, new Date(), new Date()); // `touch` in the sandbox
      lease.release();

      const again = await cache.acquire([ref], never());
      assert.equal(cache.stats().fetchedBytes, content.size, "not fetched again");
      assert.equal((await stat(path)).mtimeMs, verifiedMtime, "marked verified again");
      assert.deepEqual(await readFile(path), content.bytes);
      again.release();
    });
  });
});
