/**
 * The staging cache's resume and restart promises: a download cut short
 * continues with a Range request from the bytes on disk — after the
 * connection drops, after the downloading process is killed with -9, after a
 * restart — and the index is rebuilt from disk. Bytes are counted at the
 * server: a resumed download fetches little more than the file once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { httpInputSource, openStagingCache } from "../../src/cluster/staging/index.js";
import { isGamedockError } from "../../src/core/index.js";
import { ROOT, removeDir, tempDir } from "../helpers/cli.js";
import { putFile, startFilesServer, type FilesTestServer } from "../helpers/files-server.js";
import {
  ByteServer,
  cacheOver,
  fileSize,
  never,
  randomContent,
  waitFor,
} from "./staging-helpers.js";

const HELPER = join(ROOT, "test/cluster/staging-helpers.ts");

describe("staging cache: resume and restart", () => {
  let server: ByteServer;
  const dirs: string[] = [];
  const freshDir = async (): Promise<string> => {
    const dir = await tempDir("gamedock-staging-");
    dirs.push(dir);
    return dir;
  };

  before(async () => {
    server = await ByteServer.start();
  });
  after(async () => {
    await server.close();
    for (const dir of dirs) await removeDir(dir);
  });

  it("resumes with Range after the connection drops mid-download", async () => {
    const content = randomContent(1024 * 1024);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "cut", after: 300_000 });
    const served = server.servedBytes;
    const { cache } = await cacheOver(server, { dir: await freshDir() });
    const lease = await cache.acquire([ref], never());
    assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
    // The client keeps what reached its disk; bytes still in its socket buffer are asked again.
    const [firstRange, resumed] = server.requestsFor(ref.sha256).map((request) => request.range);
    assert.equal(firstRange, undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(resumed ?? "")?.[1]);
    assert.ok(from > 0 && from <= 300_000, `resumed from ${resumed}`);
    const total = server.servedBytes - served;
    assert.ok(total < 1.2 * content.size, `${total} bytes served for a ${content.size}-byte input`);
    assert.equal(cache.stats().fetchedBytes, content.size);
    lease.release();
    await cache.close();
  });

  it("resumes after the downloading process is killed with -9", async (t) => {
    const content = randomContent(8 * 1024 * 1024);
    const ref = server.add(content);
    const cut = 3 * 1024 * 1024;
    server.misbehave(ref.sha256, { kind: "stall", after: cut });
    const served = server.servedBytes;
    const dir = await freshDir();
    const stalled = server.stalled();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", HELPER, dir, server.url, ref.sha256, String(ref.size)],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], signal: t.signal },
    );
    const exited = once(child, "exit");
    await stalled;
    // The server has handed its bytes to the kernel; kill once the child has them on disk.
    const partial = join(dir, "partial", ref.sha256);
    await waitFor(async () => (await fileSize(partial)) === cut, "the child to write the bytes");
    child.kill("SIGKILL");
    const [code, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, "SIGKILL", `the child exited on its own (${code})`);

    const { cache } = await cacheOver(server, { dir });
    assert.deepEqual(cache.stats(), {
      bytes: cut,
      maxBytes: 64 * 1024 * 1024,
      files: 0,
      fetchedBytes: 0,
    });
    const lease = await cache.acquire([ref], never());
    assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
    assert.equal(server.requestsFor(ref.sha256).at(-1)?.range, `bytes=${cut}-`);
    const total = server.servedBytes - served;
    assert.ok(total < 1.2 * content.size, `${total} bytes served for a ${content.size}-byte input`);
    assert.equal(cache.stats().fetchedBytes, content.size - cut);
    lease.release();
    await cache.close();
  });

  it("keeps the bytes of a download every waiter gave up on, for the next acquire", async () => {
    const content = randomContent(600_000);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "stall", after: 100_000 });
    const dir = await freshDir();
    const { cache } = await cacheOver(server, { dir });
    const stalled = server.stalled();
    const controllers = [new AbortController(), new AbortController()];
    const waiting = controllers.map((controller) => cache.acquire([ref], controller.signal));
    await stalled;
    const partial = join(dir, "partial", ref.sha256);
    await waitFor(async () => (await fileSize(partial)) === 100_000, "the first bytes on disk");
    for (const controller of controllers) controller.abort(new Error("staging deadline"));
    for (const acquire of waiting) await assert.rejects(acquire, /staging deadline/);
    // A new acquire at once: it waits for the stopped download, then resumes it.
    const lease = await cache.acquire([ref], never());
    assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
    assert.equal(server.requestsFor(ref.sha256).at(-1)?.range, "bytes=100000-");
    assert.equal(server.requestsFor(ref.sha256).length, 2);
    lease.release();
    await cache.close();
  });

  it("closing fails the acquires in progress and keeps their bytes", async () => {
    const content = randomContent(300_000);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "stall", after: 50_000 });
    const dir = await freshDir();
    const { cache } = await cacheOver(server, { dir });
    const stalled = server.stalled();
    const waiting = cache.acquire([ref], never());
    await stalled;
    await waitFor(
      async () => (await fileSize(join(dir, "partial", ref.sha256))) === 50_000,
      "bytes",
    );
    const failed = assert.rejects(waiting, (err: unknown) => {
      assert.ok(isGamedockError(err));
      assert.equal(err.code, "E_SERVICE_UNAVAILABLE");
      assert.match(err.message, /closed/);
      return true;
    });
    await cache.close();
    await failed;
    await assert.rejects(cache.acquire([ref], never()), /closed/);
    const reopened = await cacheOver(server, { dir });
    assert.equal(reopened.cache.stats().bytes, 50_000);
    await reopened.cache.close();
  });

  it("rebuilds its index at open: verified files are reused, partial downloads resumed", async () => {
    const dir = await freshDir();
    const [whole, cutShort] = [randomContent(200_000), randomContent(500_000)];
    const wholeRef = server.add(whole);
    const cutRef = server.add(cutShort);
    server.misbehave(cutRef.sha256, { kind: "cut", after: 123_456 });
    const first = await cacheOver(server, { dir, retries: 0 });
    (await first.cache.acquire([wholeRef], never())).release();
    await assert.rejects(first.cache.acquire([cutRef], never()), (err: unknown) => {
      assert.ok(isGamedockError(err));
      assert.equal(err.code, "E_SERVICE_UNAVAILABLE");
      assert.equal(err.retryable, true);
      return true;
    });
    await first.cache.close();
    const kept = await fileSize(join(dir, "partial", cutRef.sha256));
    assert.ok(kept > 0 && kept <= 123_456, `${kept} bytes kept`);

    const second = await cacheOver(server, { dir });
    assert.deepEqual(second.cache.stats(), {
      bytes: whole.size + kept,
      maxBytes: 64 * 1024 * 1024,
      files: 1,
      fetchedBytes: 0,
    });
    const lease = await second.cache.acquire([wholeRef, cutRef], never());
    assert.equal(server.requestsFor(wholeRef.sha256).length, 1, "the verified file was reused");
    assert.equal(server.requestsFor(cutRef.sha256).at(-1)?.range, `bytes=${kept}-`);
    assert.deepEqual(await readFile(lease.pathOf(cutRef.sha256)), cutShort.bytes);
    assert.equal(second.cache.stats().fetchedBytes, cutShort.size - kept);
    lease.release();
    await second.cache.close();
  });

  it("takes the whole file from a server that ignores Range", async () => {
    const content = randomContent(400_000);
    const ref = server.add(content);
    server.misbehave(ref.sha256, { kind: "cut", after: 100_000 });
    server.ignoreRange = true;
    try {
      const { cache } = await cacheOver(server, { dir: await freshDir() });
      const lease = await cache.acquire([ref], never());
      assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
      assert.equal(server.requestsFor(ref.sha256).length, 2);
      lease.release();
      await cache.close();
    } finally {
      server.ignoreRange = false;
    }
  });

  it("fetches again from byte 0 when the bytes it resumed over were wrong", async () => {
    const content = randomContent(300_000);
    const ref = server.add(content);
    const dir = await freshDir();
    await mkdir(join(dir, "partial"), { recursive: true });
    await writeFile(join(dir, "partial", ref.sha256), Buffer.alloc(1000, 1)); // not the input's prefix
    const { cache } = await cacheOver(server, { dir });
    const lease = await cache.acquire([ref], never());
    assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
    assert.deepEqual(
      server.requestsFor(ref.sha256).map((request) => request.range),
      ["bytes=1000-", undefined],
    );
    lease.release();
    await cache.close();
  });

  describe("against the file service's /files/by-sha256 route", () => {
    let files: FilesTestServer;
    before(async () => {
      files = await startFilesServer();
    });
    after(async () => {
      await files.close();
    });

    it("fetches an input, and resumes one with Range", async () => {
      const content = randomContent(700_000);
      const put = await putFile(files.url, "input.bin", content.bytes!);
      assert.equal(put.status, 201);
      assert.equal((put.json as { sha256: string }).sha256, content.sha256);
      const ref = { sha256: content.sha256, size: content.size };

      const dir = await freshDir();
      const half = 350_000;
      await mkdir(join(dir, "partial"), { recursive: true });
      await writeFile(join(dir, "partial", ref.sha256), content.bytes!.subarray(0, half));
      const cache = await openStagingCache({
        dir,
        maxBytes: 10 * 1024 * 1024,
        source: httpInputSource({ baseUrl: files.url }),
      });
      const lease = await cache.acquire([ref], never());
      assert.deepEqual(await readFile(lease.pathOf(ref.sha256)), content.bytes);
      assert.equal(cache.stats().fetchedBytes, content.size - half, "only the rest was fetched");
      lease.release();

      const missing = randomContent(10);
      await assert.rejects(cache.acquire([missing], never()), (err: unknown) => {
        assert.ok(isGamedockError(err));
        assert.equal(err.code, "E_INPUT_NOT_FOUND");
        return true;
      });
      await cache.close();
    });
  });
});
