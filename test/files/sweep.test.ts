/**
 * Expired files are swept: the row, then the blob unless another file still
 * uses it; expired tus uploads through the hook the tus handler provides; and
 * what killed writers left: temp files on an fs target, multipart uploads of
 * PUTs on an s3 target. One sweep is run by hand against a second service on
 * the same database and store — as a second instance would — and the timer
 * is checked end to end, with a clock moved instead of waiting.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { HOST_DIR } from "../../src/blob/fs/fs-layout.js";
import type { UploadCheckpoint } from "../../src/blob/index.js";
import { ManualClock, createLogger } from "../../src/core/index.js";
import { startSweeper, sweepOnce } from "../../src/files/index.js";
import { openFilesService, type FilesService } from "../../src/server/index.js";
import {
  putFile,
  startFilesServer,
  storedObjects,
  type FileBody,
  type FilesTestServer,
} from "../helpers/files-server.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { makeTestFile } from "../blob/blob-kit.js";

const NOTHING = { files: 0, blobs: 0, uploads: 0, abandoned: 0, stalePuts: 0 };
/** Above Linux's largest possible pid (PID_MAX_LIMIT = 2^22): never a live process. */
const DEAD_PID = 2 ** 22 + 1;

describe("sweeping expired files", () => {
  let server: FilesTestServer;
  let other: FilesService;

  before(async () => {
    server = await startFilesServer({ files: { sweepIntervalMs: 3_600_000 } });
    other = await openFilesService(server.config, await createLogger({ level: "silent" }));
  });
  after(async () => {
    await other.close();
    await server.close();
  });

  it("removes expired files and their blobs, keeping blobs other files use", async () => {
    const shared = randomBytes(100);
    const expiring = (await putFile(server.url, "a.bin", shared, { query: "?ttl=1" }))
      .json as FileBody;
    const keeper = (await putFile(server.url, "b.bin", shared, { query: "?ttl=0" }))
      .json as FileBody;
    const alone = (await putFile(server.url, "c.bin", randomBytes(100), { query: "?ttl=1" }))
      .json as FileBody;
    const lasting = (await putFile(server.url, "d.bin", randomBytes(100), { query: "?ttl=3600" }))
      .json as FileBody;
    assert.deepEqual(
      await storedObjects(server.data),
      [`put/${expiring.id}`, `put/${alone.id}`, `put/${lasting.id}`].sort(),
    );

    const nothingYet = await sweepOnce(other.ctx, {}, new Date());
    assert.deepEqual(nothingYet, NOTHING);

    const asked: Date[] = [];
    const later = new Date(Date.now() + 2000);
    const result = await sweepOnce(
      other.ctx,
      {
        sweepUploads: (now) => {
          asked.push(now);
          return Promise.resolve(3);
        },
      },
      later,
    );
    assert.deepEqual(result, { ...NOTHING, files: 2, blobs: 1, uploads: 3 });
    assert.deepEqual(asked, [later]);
    // The shared blob stays for b; c's is gone.
    assert.deepEqual(
      await storedObjects(server.data),
      [`put/${expiring.id}`, `put/${lasting.id}`].sort(),
    );
    assert.equal(await other.ctx.metadata.getFile(expiring.id), null);
    assert.equal(await other.ctx.metadata.getFile(alone.id), null);
    assert.equal((await fetch(`${server.url}${keeper.url}`)).status, 200);
    assert.equal((await fetch(`${server.url}${lasting.url}`)).status, 200);

    // Sweeping again finds nothing: every removal happened once.
    assert.deepEqual(await sweepOnce(other.ctx, {}, later), NOTHING);
  });

  it("removes the temp files of killed writers from the fs target at start, and nothing else", async () => {
    const tempDir = join(server.data, "blobs", ".gamedock", "tmp", HOST_DIR);
    const dead = `.gamedock-${DEAD_PID}-0123456789abcdef.tmp`; // a PUT killed mid-upload
    const live = `.gamedock-${process.ppid}-0123456789abcdef.tmp`; // a write still in progress
    await writeFile(join(tempDir, dead), randomBytes(1000));
    await writeFile(join(tempDir, live), randomBytes(1000));
    const before = await storedObjects(server.data);

    const sweeper = startSweeper(other.ctx); // the interval is an hour: only the sweep at start runs
    await sweeper.stop();
    assert.deepEqual(await readdir(tempDir), [live]);
    assert.deepEqual(
      await storedObjects(server.data),
      before.filter((path) => !path.endsWith(dead)),
    );
    const again = await sweepOnce(other.ctx);
    assert.equal(again.abandoned, 0);
    await writeFile(join(tempDir, dead), "x");
    assert.equal((await sweepOnce(other.ctx)).abandoned, 1);
    await writeFile(join(tempDir, live), "");
  });
});

describe("the sweeper's timer", () => {
  let server: FilesTestServer;
  let other: FilesService;

  before(async () => {
    // The services' own sweepers wait an hour between sweeps: only the test's sweeper ticks.
    server = await startFilesServer({ files: { sweepIntervalMs: 3_600_000 } });
    other = await openFilesService(server.config, await createLogger({ level: "silent" }));
  });
  after(async () => {
    await other.close();
    await server.close();
  });

  it("removes a file with ttl=1 at the first tick after it expires", async () => {
    const file = (await putFile(server.url, "short.bin", randomBytes(64), { query: "?ttl=1" }))
      .json as FileBody;
    const clock = new ManualClock();
    const ticking = { ...other.ctx, settings: { ...other.ctx.settings, sweepIntervalMs: 100 } };
    const sweeper = startSweeper(ticking, {}, { clock });
    try {
      assert.deepEqual(await storedObjects(server.data), [`put/${file.id}`]);
      clock.advance(2000); // past the expiry: the next tick removes the file
      const deadline = Date.now() + 10_000;
      while ((await storedObjects(server.data)).length > 0) {
        assert.ok(Date.now() < deadline, "the expired file was not swept within 10 s");
        await delay(50);
      }
    } finally {
      await sweeper.stop();
    }
    assert.equal((await fetch(`${server.url}${file.url}`)).status, 404);
  });
});

describe("sweeping what killed PUTs left on an s3 target", () => {
  let s3: S3rverHandle;
  let server: FilesTestServer;
  let other: FilesService;

  before(async () => {
    s3 = await startS3rver();
    server = await startFilesServer({
      targets: { s3: s3TargetOf(s3) },
      files: { target: "s3", sweepIntervalMs: 3_600_000, uploadTtlSeconds: 3600 },
    });
    other = await openFilesService(server.config, await createLogger({ level: "silent" }));
  });
  after(async () => {
    await other.close();
    await server.close();
    await s3.close();
  });

  /** A multipart upload with one part stored, never completed: what a process killed mid-upload leaves. */
  async function leaveMultipart(key: string): Promise<void> {
    const source = await makeTestFile(
      server.data,
      `${randomBytes(3).toString("hex")}.bin`,
      11 << 20,
    );
    const controller = new AbortController();
    await assert.rejects(
      other.ctx.store.putFile(key, source.path, {
        signal: controller.signal,
        onCheckpoint: (checkpoint: UploadCheckpoint) => {
          if (checkpoint.parts.length > 0) controller.abort();
          return Promise.resolve();
        },
      }),
      { name: "AbortError" },
    );
  }

  it("aborts put/ multipart uploads older than files.uploadTtlSeconds, and no others", async () => {
    await leaveMultipart("put/killedmidupload0000000");
    await leaveMultipart("pack-jobs/job1/huawei.apk"); // the packer's: not the file service's to judge
    const keys = async (prefix: string): Promise<string[]> =>
      (await other.ctx.store.incompleteUploads(prefix)).map((upload) => upload.key);
    assert.deepEqual(await keys("put/"), ["put/killedmidupload0000000"]);

    assert.deepEqual(await sweepOnce(other.ctx), NOTHING, "young: may be a PUT in progress");
    assert.deepEqual(await keys("put/"), ["put/killedmidupload0000000"]);

    const later = new Date(Date.now() + 3_600_000 + 60_000);
    assert.deepEqual(await sweepOnce(other.ctx, {}, later), { ...NOTHING, stalePuts: 1 });
    assert.deepEqual(await keys("put/"), []);
    assert.deepEqual(await keys("pack-jobs/"), ["pack-jobs/job1/huawei.apk"]);
  });
});
