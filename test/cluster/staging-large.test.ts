/**
 * Memory stays flat whatever the input's size: a 200 MB input goes from a
 * server in this process to the cache's disk, cut once mid-way so the resume
 * path (hashing the bytes on disk) runs too, while this process's resident
 * memory is sampled. Holding the file would add 200 MB; streaming adds a few.
 */
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { removeDir, tempDir } from "../helpers/cli.js";
import { ByteServer, cacheOver, never, randomFileContent } from "./staging-helpers.js";

const SIZE = 200 * 1024 * 1024;

describe("staging cache: a 200 MB input", () => {
  let server: ByteServer;
  let scratch = "";
  before(async () => {
    server = await ByteServer.start();
    scratch = await tempDir("gamedock-staging-large-");
  });
  after(async () => {
    await server.close();
    await removeDir(scratch);
  });

  it("is staged with flat memory", async () => {
    const content = await randomFileContent(join(scratch, "input.bin"), SIZE);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "cut", after: SIZE / 2 });
    const { cache } = await cacheOver(server, { dir: join(scratch, "cache"), maxBytes: 2 * SIZE });

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const lease = await cache.acquire([ref], never());
      peak = Math.max(peak, process.memoryUsage().rss);
      assert.equal((await stat(lease.pathOf(ref.sha256))).size, SIZE); // verified by the cache
      lease.release();
    } finally {
      clearInterval(sampler);
      await cache.close();
    }
    const grown = (peak - baseline) / 1024 / 1024;
    assert.ok(grown < 64, `resident memory grew by ${grown.toFixed(1)} MB for a 200 MB input`);
    assert.ok(server.servedBytes < 1.2 * SIZE);
  });
});
