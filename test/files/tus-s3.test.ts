/**
 * tus on an s3 files target (the s3 driver's resumable uploads) against
 * s3rver: chunks smaller than a part (kept as the upload's tail between
 * PATCHes), a dropped PATCH resumed, an empty upload, termination, expiry and
 * orphaned storage — and that nothing of an upload shows under `tus/` before
 * it is complete, nor outlives it.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { BlobStore } from "../../src/blob/index.js";
import { ORPHAN_GRACE_MS } from "../../src/files/tus/sweep.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import {
  MiB,
  TusClient,
  coreutilsDigests,
  digestsOf,
  idOf,
  randomFile,
  startTusServer,
  type TusServer,
} from "./tus-kit.js";

async function keysUnder(blobs: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of blobs.list(prefix)) keys.push(info.key);
  return keys.sort();
}

async function uploadsUnder(blobs: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const upload of blobs.resumable.list(prefix)) keys.push(upload.key);
  return keys.sort();
}

describe("tus handler (s3 target on s3rver)", () => {
  let dir = "";
  let s3: S3rverHandle;
  let server: TusServer;
  let client: TusClient;

  before(async () => {
    dir = await tempDir("gamedock-tus-s3-");
    s3 = await startS3rver();
    // A long TTL: a loaded machine must not expire uploads mid-test. The sweep
    // test asks the sweeper to look from two hours ahead instead of sleeping.
    server = await startTusServer(dir, { target: s3TargetOf(s3), uploadTtlSeconds: 3600 });
    client = new TusClient(server.url);
  });
  after(async () => {
    await server.close();
    await s3.close();
    await removeDir(dir);
  });

  it("uploads in chunks smaller than a part, resumes a dropped PATCH, registers tus/<id>", async () => {
    const file = join(dir, "s3.bin");
    const size = 12 * MiB + 321;
    await randomFile(file, size);
    const bytes = await readFile(file);
    const url = await client.start(size, { filename: "对象存储.bin" });
    const id = idOf(url);

    assert.equal((await client.patch(url, 0, bytes.subarray(0, 3 * MiB))).status, 204);
    assert.deepEqual(
      await keysUnder(server.blobs, `tus/${id}`),
      [],
      "nothing shows before it is done",
    );
    assert.deepEqual(await uploadsUnder(server.blobs, `tus/${id}`), [`tus/${id}`]);
    assert.equal(await server.blobs.resumable.offset(`tus/${id}`), 3 * MiB);
    await client.abortedPatch(url, 3 * MiB, bytes.subarray(3 * MiB, 9 * MiB), 4 * MiB);
    const offset = await client.offset(url);
    assert.ok(offset > 3 * MiB, `offset ${offset} after the drop`);
    assert.equal(await client.sendFile(url, file, size, offset, 4 * MiB), size);

    const stored = await server.metadata.getFile(id);
    assert.equal(stored?.blobKey, `tus/${id}`);
    assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, await coreutilsDigests(file));
    assert.deepEqual(await keysUnder(server.blobs, `tus/${id}`), [`tus/${id}`]);
    assert.deepEqual(await uploadsUnder(server.blobs, `tus/${id}`), []);
    const download = await fetch(`${server.url}/files/${id}`);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(bytes));
    assert.equal(await client.offset(url), size, "HEAD of a finished upload");
    const rehashed = server.logged("tus-rehash").filter((line) => line.key === `tus/${id}`);
    assert.deepEqual(rehashed, [], "the digests went on from the dropped PATCH");
  });

  it("an upload another instance takes over is hashed from the object once it is complete", async () => {
    // S3 cannot read a multipart upload's parts back, so the digests cannot be caught up.
    const other = await startTusServer(join(dir, "other"), {
      target: s3TargetOf(s3),
      dbPath: join(dir, "files.db"),
    });
    try {
      const bytes = Buffer.alloc(7 * MiB + 8);
      for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(i, i);
      const url = await client.start(bytes.length, { filename: "taken-over.bin" });
      const id = idOf(url);
      assert.equal((await client.patch(url, 0, bytes.subarray(0, 6 * MiB))).status, 204);
      const onOther = `${other.url}/files/${id}`;
      const last = await new TusClient(other.url).patch(onOther, 6 * MiB, bytes.subarray(6 * MiB));
      assert.equal(last.status, 204);
      const stored = await other.metadata.getFile(id);
      assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, digestsOf(bytes));
      const rehashed = other.logged("tus-rehash").filter((line) => line.key === `tus/${id}`);
      assert.equal(rehashed.length, 1, "the object read once, at the end");
    } finally {
      await other.close();
    }
  });

  it("an empty upload completes its multipart upload at once", async () => {
    const created = await client.create({ length: 0, metadata: { filename: "empty" } });
    assert.equal(created.status, 201);
    const id = idOf(client.url(created.headers.get("location") ?? ""));
    const stored = await server.metadata.getFile(id);
    assert.equal(stored?.sha256, digestsOf(Buffer.alloc(0)).sha256);
    assert.deepEqual(await keysUnder(server.blobs, `tus/${id}`), [`tus/${id}`]);
  });

  it("termination aborts the multipart upload and removes info and part objects", async () => {
    const url = await client.start(10 * MiB);
    assert.equal((await client.patch(url, 0, Buffer.alloc(MiB, 1))).status, 204);
    const id = idOf(url);
    assert.equal((await client.delete(url)).status, 204);
    assert.deepEqual(await keysUnder(server.blobs, `tus/${id}`), []);
    assert.deepEqual(await uploadsUnder(server.blobs, `tus/${id}`), []);
    assert.deepEqual(
      (await server.blobs.incompleteUploads("tus/")).filter((upload) => upload.key === `tus/${id}`),
      [],
    );
    assert.equal(await server.metadata.getUpload(id), null);
  });

  it("sweepExpired removes expired uploads", async () => {
    const url = await client.start(10 * MiB);
    assert.equal((await client.patch(url, 0, Buffer.alloc(MiB, 2))).status, 204);
    const id = idOf(url);
    assert.equal(await server.handler.sweepExpired(new Date(Date.now() + 7_200_000)), 1);
    assert.deepEqual(await keysUnder(server.blobs, `tus/${id}`), []);
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), []);
    assert.deepEqual(await server.blobs.incompleteUploads("tus/"), []);
    assert.equal(await server.metadata.getUpload(id), null);
  });

  it("sweepExpired removes storage whose record was never saved, after a grace period", async () => {
    const orphan = "tus/lq0orphanedupload0000000";
    await server.blobs.resumable.begin(orphan);
    await server.blobs.resumable.append(orphan, 0, Readable.from([Buffer.alloc(6 * MiB, 3)]));
    assert.equal(await server.handler.sweepExpired(), 0, "young: may be a create in progress");
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), [orphan]);
    assert.equal(
      await server.handler.sweepExpired(new Date(Date.now() + ORPHAN_GRACE_MS + 60_000)),
      1,
    );
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), []);
    assert.deepEqual(await server.blobs.incompleteUploads("tus/"), [], "its multipart upload too");
  });
});
