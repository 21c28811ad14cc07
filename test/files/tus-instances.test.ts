/**
 * Two tus handler instances (two HTTP servers) sharing the metadata database
 * file, the fs target and the Redis locker, as `gamedock files` instances
 * behind nginx do: an upload started on one finishes on the other with the
 * right digests, and a request stuck on one instance gives way to the other.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { removeDir, tempDir } from "../helpers/cli.js";
import { SERVICES, skipUnlessService, uniquePrefix } from "../helpers/services.js";
import {
  MiB,
  TusClient,
  coreutilsDigests,
  idOf,
  randomFile,
  startTusServer,
  type TusServer,
} from "./tus-kit.js";

const skip = await skipUnlessService("redis");

describe("tus across two instances", { skip }, () => {
  let dir = "";
  let prefix = "";
  let a: TusServer;
  let b: TusServer;
  let onA: TusClient;
  let onB: TusClient;

  before(async () => {
    dir = await tempDir("gamedock-tus-two-");
    prefix = uniquePrefix("tus");
    const shared = {
      target: { driver: "fs" as const, root: join(dir, "blobs") },
      dbPath: join(dir, "files.db"),
      lockRedisUrl: SERVICES.redis.url,
      lockPrefix: prefix,
      lockDrainTimeoutMs: 500,
    };
    a = await startTusServer(join(dir, "a"), shared);
    b = await startTusServer(join(dir, "b"), shared);
    onA = new TusClient(a.url);
    onB = new TusClient(b.url);
  });
  after(async () => {
    await a.close();
    await b.close();
    const redis = new Redis(SERVICES.redis.url);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await removeDir(dir);
  });

  it("an upload dropped on one instance is resumed and finished on the other", async () => {
    const file = join(dir, "two.bin");
    const size = 6 * MiB + 5;
    await randomFile(file, size);
    const bytes = await readFile(file);
    const url = await onA.start(size, { filename: "两个实例.bin" });
    const id = idOf(url);
    assert.equal((await onA.patch(url, 0, bytes.subarray(0, 2 * MiB))).status, 204);
    await onA.abortedPatch(url, 2 * MiB, bytes.subarray(2 * MiB, 5 * MiB), 1.5 * MiB);

    const urlOnB = `${b.url}/files/${id}`;
    const offset = await onB.offset(urlOnB);
    assert.ok(offset > 2 * MiB, `offset ${offset}`);
    const record = await b.metadata.getUpload(id);
    assert.equal(record?.offset, offset, "A saved the offset of every byte stored");
    assert.equal(await onB.sendFile(urlOnB, file, size, offset, 2 * MiB), size);
    const caughtUp = (server: TusServer): { from: unknown; to: unknown }[] =>
      server
        .logged("tus-digests-caught-up")
        .filter((line) => line.id === id)
        .map(({ from, to }) => ({ from, to }));
    assert.deepEqual(caughtUp(b), [{ from: 0, to: offset }], "B read A's bytes back once");
    assert.deepEqual(caughtUp(a), []);

    const stored = await a.metadata.getFile(id);
    assert.equal(stored?.name, "两个实例.bin");
    assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, await coreutilsDigests(file));
    const download = await fetch(`${a.url}/files/${id}`);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(bytes));
  });

  it("PATCHes alternating between the instances read back only what the other one stored", async () => {
    const file = join(dir, "alternating.bin");
    const size = 8 * MiB + 99;
    await randomFile(file, size);
    const bytes = await readFile(file);
    const url = await onA.start(size, { filename: "alternating.bin" });
    const id = idOf(url);
    const step = MiB + 7;
    const sent: { on: "a" | "b"; from: number; to: number }[] = [];
    for (let at = 0, i = 0; at < size; i++) {
      const on = i % 2 === 0 ? "a" : "b";
      const to = Math.min(size, at + step);
      const [client, server] = on === "a" ? [onA, a] : [onB, b];
      const response = await client.patch(`${server.url}/files/${id}`, at, bytes.subarray(at, to));
      assert.equal(response.status, 204);
      sent.push({ on, from: at, to });
      at = to;
    }
    const stored = await a.metadata.getFile(id);
    assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, await coreutilsDigests(file));
    // Each instance reads back the PATCH the other took since its own last one: every byte
    // is read back at most once, by the instance that did not receive it.
    for (const [name, server] of [
      ["a", a],
      ["b", b],
    ] as const) {
      const expected = sent.flatMap((patch, i) =>
        patch.on === name && i > 0 ? [{ from: i === 1 ? 0 : sent[i - 2]!.to, to: patch.from }] : [],
      );
      const caughtUp = server
        .logged("tus-digests-caught-up")
        .filter((line) => line.id === id)
        .map(({ from, to }) => ({ from, to }));
      assert.deepEqual(caughtUp, expected, `what ${name} read back`);
    }
  });

  it("a request stuck on one instance is asked to let go when the other needs the upload", async () => {
    const bytes = Buffer.alloc(3 * MiB, 1);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
    const url = await onA.start(bytes.length);
    const id = idOf(url);
    const stuck = onA.stalledPatch(url, 0, bytes, MiB);
    await new Promise((resolve) => setTimeout(resolve, 300)); // A holds the lock, writing

    const urlOnB = `${b.url}/files/${id}`;
    // A's client never finishes: B gets the lock only because A was asked to let go.
    const offset = await onB.offset(urlOnB);
    assert.equal(offset, MiB, "what A received before letting go is kept");
    assert.equal(await stuck.response, 204, "A ended its request with the bytes it had");
    stuck.cut();

    assert.equal((await onB.patch(urlOnB, offset, bytes.subarray(offset))).status, 204);
    const stored = await b.metadata.getFile(id);
    assert.equal(stored?.sha256, createHash("sha256").update(bytes).digest("hex"));
  });
});
