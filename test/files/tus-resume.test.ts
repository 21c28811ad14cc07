/**
 * tus uploads that do not go straight through: a client that drops mid-PATCH
 * and resumes, an upload left to expire and swept, storage orphaned by a
 * create that never saved its record, and a 200 MB upload whose memory must
 * stay flat. Digests are checked against sha256sum / md5sum.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { execFile, spawnSync } from "node:child_process";
import type { BlobStore } from "../../src/blob/index.js";
import { ManualClock } from "../../src/core/index.js";
import { ORPHAN_GRACE_MS } from "../../src/files/tus/sweep.js";
import { removeDir, tempDir } from "../helpers/cli.js";
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

const run = promisify(execFile);

/** Keys of the resumable uploads in progress under `prefix`. */
async function uploadsUnder(blobs: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const upload of blobs.resumable.list(prefix)) keys.push(upload.key);
  return keys.sort();
}

describe("tus resume (fs target)", () => {
  let dir = "";
  let server: TusServer;
  let client: TusClient;

  before(async () => {
    dir = await tempDir("gamedock-tus-resume-");
    server = await startTusServer(dir, { uploadTtlSeconds: 3600 });
    client = new TusClient(server.url);
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  it("resumes after the client drops mid-PATCH, with the right digests", async () => {
    const file = join(dir, "resume.bin");
    const size = 5 * MiB + 77;
    await randomFile(file, size);
    const bytes = await readFile(file);
    const url = await client.start(size, { filename: "resume.bin" });

    assert.equal((await client.patch(url, 0, bytes.subarray(0, MiB))).status, 204);
    await client.abortedPatch(url, MiB, bytes.subarray(MiB, 4 * MiB), 1.5 * MiB);
    const offset = await client.offset(url);
    assert.ok(offset > MiB && offset <= 2.5 * MiB, `offset ${offset} after the drop`);
    const record = await server.metadata.getUpload(idOf(url));
    assert.equal(record?.offset, offset, "the record saved for the bytes kept");

    assert.equal(await client.sendFile(url, file, size, offset, MiB), size);
    const stored = await server.metadata.getFile(idOf(url));
    assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, await coreutilsDigests(file));
    assert.deepEqual(
      server.logged("tus-digests-caught-up"),
      [],
      "the digests went on from the dropped PATCH: nothing was read back",
    );
    assert.deepEqual(server.logged("tus-rehash"), []);
  });

  it("storage begun for an upload whose record was never saved is removed after a grace period", async () => {
    // A create that stored nothing but its storage: the database failed, or the instance died.
    const orphan = "tus/lq0orphanedupload0000000";
    await server.blobs.resumable.begin(orphan);
    await server.blobs.resumable.append(orphan, 0, Readable.from([Buffer.alloc(100, 1)]));
    const url = await client.start(1000); // a real upload in progress, with its record
    assert.equal((await client.patch(url, 0, Buffer.alloc(10))).status, 204);

    assert.equal(await server.handler.sweepExpired(), 0, "young: may be a create in progress");
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), [orphan, `tus/${idOf(url)}`].sort());
    const later = new Date(Date.now() + ORPHAN_GRACE_MS + 60_000);
    assert.equal(await server.handler.sweepExpired(later), 1);
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), [`tus/${idOf(url)}`]);
    assert.equal(await client.offset(url), 10, "an upload with a record is not an orphan");
    assert.equal((await client.delete(url)).status, 204);
  });
});

describe("checksum spools of a killed process", () => {
  it("are removed when the next tus handler starts, and by its sweep", async () => {
    const dir = await tempDir("gamedock-tus-spool-");
    const spool = join(dir, "spool");
    await mkdir(spool, { recursive: true });
    // The spool a process killed mid-PATCH leaves: core's temp name with its (dead) pid.
    const deadPid = spawnSync("true").pid ?? 4_194_304;
    const left = join(spool, `.gamedock-${deadPid}-00ff00ff.tmp`);
    await writeFile(left, Buffer.alloc(64 * 1024));
    const server = await startTusServer(dir);
    try {
      assert.deepEqual(await readdir(spool), [], "removed at start");
      await writeFile(left, Buffer.alloc(10));
      await server.handler.sweepExpired();
      assert.deepEqual(await readdir(spool), [], "removed by the sweep");
    } finally {
      await server.close();
      await removeDir(dir);
    }
  });
});

describe("tus expiry (fs target)", () => {
  let dir = "";
  let server: TusServer;
  let client: TusClient;
  const clock = new ManualClock();

  before(async () => {
    dir = await tempDir("gamedock-tus-resume-");
    // Uploads expire 3 s after creation by the server's clock, which the test moves.
    server = await startTusServer(dir, { uploadTtlSeconds: 3, clock });
    client = new TusClient(server.url);
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  it("expired uploads answer 410 and sweepExpired removes bytes and record", async () => {
    const done = await client.start(3);
    assert.equal((await client.patch(done, 0, Buffer.from("abc"))).status, 204);
    const url = await client.start(1000);
    assert.equal((await client.patch(url, 0, Buffer.alloc(100))).status, 204);
    const id = idOf(url);
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), [`tus/${id}`]);
    assert.equal(await server.handler.sweepExpired(), 0, "not expired yet");

    clock.advance(3100);
    const head = await client.head(url);
    assert.equal(head.status, 410);
    const patch = await client.patch(url, 100, Buffer.alloc(10));
    assert.equal(patch.status, 410);

    // The finished upload is a file now; this one and nothing else has expired.
    assert.equal(await server.handler.sweepExpired(), 1);
    assert.deepEqual(await uploadsUnder(server.blobs, "tus/"), []);
    assert.equal(await server.blobs.head(`tus/${id}`), null);
    assert.equal(await server.metadata.getUpload(id), null);
    assert.equal((await client.head(url)).status, 404);
    assert.ok(
      await server.metadata.getFile(idOf(done)),
      "finished files are not the sweep's business",
    );
    assert.equal(await server.handler.sweepExpired(), 0);
  });
});

describe("tus recovery after an instance died mid-upload", () => {
  let dir = "";
  let first: TusServer;
  let second: TusServer;

  before(async () => {
    dir = await tempDir("gamedock-tus-recover-");
    const shared = {
      target: { driver: "fs" as const, root: join(dir, "blobs") },
      dbPath: join(dir, "files.db"),
    };
    first = await startTusServer(join(dir, "1"), shared);
    second = await startTusServer(join(dir, "2"), shared);
  });
  after(async () => {
    await first.close();
    await second.close();
    await removeDir(dir);
  });

  it("bytes stored by an instance that died mid-PATCH are read back once by the next", async () => {
    const bytes = Buffer.alloc(2 * MiB, 5);
    bytes.write("tail differs", MiB + 3);
    const url = await new TusClient(first.url).start(bytes.length);
    const id = idOf(url);
    const client = new TusClient(second.url);
    const at = `${second.url}/files/${id}`;
    assert.equal((await client.patch(at, 0, bytes.subarray(0, MiB))).status, 204);
    // The instance stored 1000 more bytes, then died before saving its state.
    await first.blobs.resumable.append(
      `tus/${id}`,
      MiB,
      Readable.from([bytes.subarray(MiB, MiB + 1000)]),
    );
    const resumeAt = await new TusClient(first.url).offset(`${first.url}/files/${id}`);
    assert.equal(resumeAt, MiB + 1000);
    const last = await new TusClient(first.url).patch(
      `${first.url}/files/${id}`,
      resumeAt,
      bytes.subarray(resumeAt),
    );
    assert.equal(last.status, 204);
    const stored = await first.metadata.getFile(id);
    assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, digestsOf(bytes));
    const caughtUp = first.logged("tus-digests-caught-up").filter((line) => line.id === id);
    assert.deepEqual(
      caughtUp.map(({ from, to }) => ({ from, to })),
      [{ from: 0, to: MiB + 1000 }],
      "the stored prefix, read once",
    );
    assert.deepEqual(first.logged("tus-rehash"), [], "not read again at the end");
  });

  it("all bytes stored but never registered: the next HEAD finishes the upload", async () => {
    const bytes = Buffer.from("every byte arrived, then the instance was killed");
    const client = new TusClient(first.url);
    const url = await client.start(bytes.length, { filename: "killed.txt" });
    const id = idOf(url);
    assert.equal((await client.patch(url, 0, bytes.subarray(0, 10))).status, 204);
    await first.blobs.resumable.append(`tus/${id}`, 10, Readable.from([bytes.subarray(10)]));
    assert.equal(await first.metadata.getFile(id), null);

    const head = await new TusClient(second.url).head(`${second.url}/files/${id}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("upload-offset"), String(bytes.length));
    const stored = await second.metadata.getFile(id);
    assert.equal(stored?.name, "killed.txt");
    assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, digestsOf(bytes));
    assert.equal(await second.metadata.getUpload(id), null);
  });

  it("a finish cut short after its bytes were dropped as a duplicate still registers the file", async () => {
    const bytes = Buffer.from("the same bytes, uploaded twice");
    const client = new TusClient(first.url);
    const original = await client.start(bytes.length);
    assert.equal((await client.patch(original, 0, bytes)).status, 204);
    const kept = await first.metadata.getFile(idOf(original));
    assert.ok(kept);

    // The second upload got every byte, was completed and found a duplicate, and its
    // bytes were deleted — then the instance died before the file row was written.
    const url = await client.start(bytes.length, { filename: "twice.txt" });
    const id = idOf(url);
    const record = await first.metadata.getUpload(id);
    assert.ok(record);
    const { sha256, md5 } = digestsOf(bytes);
    await first.metadata.saveUpload({ ...record, offset: bytes.length, digests: { sha256, md5 } });
    await first.blobs.resumable.abort(`tus/${id}`);

    const head = await new TusClient(second.url).head(`${second.url}/files/${id}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("upload-offset"), String(bytes.length));
    const file = await second.metadata.getFile(id);
    assert.equal(file?.name, "twice.txt");
    assert.equal(file.blobKey, kept.blobKey, "served by the blob it duplicates");
    assert.equal(await second.metadata.getUpload(id), null);
  });
});

describe("tus memory", () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("gamedock-tus-rss-");
  });
  after(async () => {
    await removeDir(dir);
  });

  it("a 200 MB upload in 8 MiB chunks keeps the server's RSS growth well under 100 MB", async () => {
    const server = await startTusServer(dir);
    try {
      const file = join(dir, "big.bin");
      const size = 200 * MiB;
      // Made and hashed by other processes, so no buffer of ours inflates the baseline.
      await run("sh", ["-c", `head -c ${size} /dev/urandom > '${file}'`]);
      const expected = await coreutilsDigests(file);
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      let url: string;
      try {
        // The client runs in its own process: this process's RSS is the server's.
        const { stdout } = await run(process.execPath, [
          "--import",
          "tsx",
          join(import.meta.dirname, "tus-upload-client.ts"),
          server.url,
          file,
          String(8 * MiB),
        ]);
        url = stdout.trim();
      } finally {
        clearInterval(sampler);
      }
      const stored = await server.metadata.getFile(idOf(url));
      assert.deepEqual({ sha256: stored?.sha256, md5: stored?.md5 }, expected);
      const growth = (peak - baseline) / MiB;
      process.stderr.write(`tus 200 MB upload: server RSS growth ${growth.toFixed(1)} MiB\n`);
      assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB`);
    } finally {
      await server.close();
    }
  });
});
