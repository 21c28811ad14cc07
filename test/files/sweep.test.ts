/**
 * Expired files are swept: the row, then the blob unless another file still
 * uses it; expired tus uploads through the hook the tus handler provides.
 * One sweep is run by hand against a second service on the same database and
 * store — as a second instance would — and the timer is checked end to end.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../src/core/index.js";
import { sweepOnce } from "../../src/files/index.js";
import { openFilesService, type FilesService } from "../../src/server/index.js";
import {
  putFile,
  startFilesServer,
  storedObjects,
  type FileBody,
  type FilesTestServer,
} from "../helpers/files-server.js";

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
    assert.deepEqual(nothingYet, { files: 0, blobs: 0, uploads: 0 });

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
    assert.deepEqual(result, { files: 2, blobs: 1, uploads: 3 });
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
    assert.deepEqual(await sweepOnce(other.ctx, {}, later), { files: 0, blobs: 0, uploads: 0 });
  });
});

describe("the sweeper's timer", () => {
  let server: FilesTestServer;

  before(async () => {
    server = await startFilesServer({ files: { sweepIntervalMs: 100 } });
  });
  after(async () => {
    await server.close();
  });

  it("removes a file with ttl=1 soon after it expires", async () => {
    const file = (await putFile(server.url, "short.bin", randomBytes(64), { query: "?ttl=1" }))
      .json as FileBody;
    assert.deepEqual(await storedObjects(server.data), [`put/${file.id}`]);
    const deadline = Date.now() + 10_000;
    while ((await storedObjects(server.data)).length > 0) {
      assert.ok(Date.now() < deadline, "the expired file was not swept within 10 s");
      await delay(100);
    }
    assert.equal((await fetch(`${server.url}${file.url}`)).status, 404);
  });
});
