/**
 * The BlobStore conformance suite: every promise of src/blob/contract.ts, as a
 * user would notice it, run against each driver (fs.test.ts, s3.test.ts).
 * Test files are generated on disk; contents are compared by sha256.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { BlobStore, UploadCheckpoint } from "../../src/blob/index.js";
import {
  bytesOf,
  generatedStream,
  listAll,
  makeTestFile,
  rejectsWith,
  sha256Of,
  type TestFile,
} from "./blob-kit.js";
import { composeConformance } from "./conformance-compose.js";
import { resumableConformance } from "./conformance-resumable.js";

export interface ConformanceTarget {
  store: BlobStore;
  /**
   * putFile uploads in parts, reports checkpoints and can leave incomplete
   * multipart uploads (s3); false: it copies whole and has none (fs).
   */
  multipart: boolean;
  /** compose works (server-side copy); false: the store lacks it (s3rver), and says so. */
  compose: boolean;
  /** resumable.read streams an upload in progress (fs); false: it answers null (s3). */
  readsUploadsInProgress: boolean;
  /** Bytes of the large test file: more than two parts where there are parts. */
  largeFileSize: number;
  /** Leaves what a writer killed while uploading `file` to `key` leaves behind. */
  leaveIncompleteUpload(key: string, file: string): Promise<void>;
  /** Another store on the same target, as another process or instance opens it. */
  reopen(): Promise<BlobStore>;
  close(): Promise<void>;
}

const INVALID_KEYS = [
  "",
  "../x",
  "/abs",
  "a//b",
  "a/./b",
  "dir/",
  "a/b\u0001c",
  "tab\there",
  "x".repeat(1025),
  ".gamedock",
  ".gamedock/tmp/x",
];

export function blobStoreConformance(
  name: string,
  setup: () => Promise<ConformanceTarget>,
  options: { skip?: string | false } = {},
): void {
  describe(`BlobStore conformance: ${name}`, { skip: options.skip ?? false }, () => {
    let target: ConformanceTarget;
    let store: BlobStore;
    let dir = "";
    let large: TestFile;
    let small: TestFile;
    let other: TestFile;
    const prefix = `conformance-${randomBytes(3).toString("hex")}/`;

    before(async () => {
      target = await setup();
      store = target.store;
      dir = await mkdtemp(join(tmpdir(), "gamedock-blob-files-"));
      large = await makeTestFile(dir, "large.bin", target.largeFileSize);
      small = await makeTestFile(dir, "small.bin", 100_000);
      other = await makeTestFile(dir, "other.bin", 70_001);
    });
    after(async () => {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("putFile then get returns the file byte for byte; head reports its size and etag", async () => {
      for (const file of [small, large]) {
        const key = `${prefix}put/${file.size}.bin`;
        const put = await store.putFile(key, file.path, {
          contentType: "application/octet-stream",
        });
        assert.equal(put.key, key);
        assert.equal(put.size, file.size);
        assert.deepEqual(await sha256Of(await store.get(key)), {
          sha256: file.sha256,
          size: file.size,
        });
        const info = await store.head(key);
        assert.ok(info);
        assert.equal(info.key, key);
        assert.equal(info.size, file.size);
        assert.equal(info.etag, put.etag);
        assert.ok(info.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()));
      }
    });

    it("putFile of a disposable file stores the same bytes (a driver may move it)", async () => {
      const copy = join(dir, "disposable.bin");
      await copyFile(small.path, copy);
      const key = `${prefix}disposable.bin`;
      const put = await store.putFile(key, copy, { disposable: true });
      assert.equal(put.size, small.size);
      assert.deepEqual(await sha256Of(await store.get(key)), {
        sha256: small.sha256,
        size: small.size,
      });
      await rm(copy, { force: true });
      assert.equal((await store.head(key))?.size, small.size, "the object outlives the source");
    });

    it("putFile records metadata that head returns; a replacement without it has none", async () => {
      const digest = "ab".repeat(32);
      for (const file of [small, large]) {
        const key = `${prefix}meta/${file.size}.bin`;
        await store.putFile(key, file.path, { metadata: { "gamedock-sha256": digest } });
        assert.deepEqual((await store.head(key))?.metadata, { "gamedock-sha256": digest });
        await store.putFile(key, other.path);
        assert.deepEqual((await store.head(key))?.metadata, {}, "the old object's metadata went");
        await store.delete(key);
        await store.putFile(key, file.path, { metadata: { "gamedock-sha256": digest } });
        await store.delete(key);
        assert.equal(await store.head(key), null);
      }
      const bad: Record<string, string>[] = [
        { "Upper-Case": "x" },
        { name: "line\nbreak" },
        { n: "é" },
      ];
      for (const metadata of bad) {
        await rejectsWith(
          store.putFile(`${prefix}meta/bad.bin`, small.path, { metadata }),
          "E_INVALID_REQUEST",
        );
      }
      assert.equal(await store.head(`${prefix}meta/bad.bin`), null, "nothing written");
    });

    it("putStream stores a generated stream, small, empty, and larger than a part", async () => {
      for (const size of [12_345, 0, Math.ceil(target.largeFileSize / 2)]) {
        const key = `${prefix}stream/${size}`;
        const { stream, sha256 } = generatedStream(size);
        const put = await store.putStream(key, stream, { contentType: "text/plain" });
        assert.equal(put.size, size);
        assert.deepEqual(await sha256Of(await store.get(key)), { sha256, size });
        assert.equal((await store.head(key))?.etag, put.etag);
      }
    });

    it("get with a range returns exactly the inclusive byte range", async () => {
      const key = `${prefix}range.bin`;
      await store.putFile(key, other.path);
      const whole = await bytesOf(await store.get(key));
      const last = other.size - 1;
      const cases: [number, number][] = [
        [0, 0],
        [10, 19],
        [last, last],
        [1000, 1000],
        [last - 99, last],
        [0, last],
      ];
      for (const [start, end] of cases) {
        const got = await bytesOf(await store.get(key, { start, end }));
        assert.deepEqual(got, whole.subarray(start, end + 1), `range ${start}-${end}`);
      }
      // An end past the last byte is cut to it, as HTTP does.
      assert.deepEqual(
        await bytesOf(await store.get(key, { start: last - 4, end: last + 1000 })),
        whole.subarray(last - 4),
      );
      await rejectsWith(
        store.get(key, { start: other.size, end: other.size + 10 }),
        "E_INVALID_REQUEST",
      );
      await rejectsWith(store.get(key, { start: 5, end: 4 }), "E_INVALID_REQUEST");
      await rejectsWith(store.get(key, { start: -1, end: 4 }), "E_INVALID_REQUEST");
    });

    it("a missing key: get fails with E_NOT_FOUND, head returns null", async () => {
      const key = `${prefix}missing/nothing-here.apk`;
      const err = await rejectsWith(store.get(key), "E_NOT_FOUND");
      assert.match(err.message, /nothing-here\.apk/);
      await rejectsWith(store.get(key, { start: 0, end: 10 }), "E_NOT_FOUND");
      assert.equal(await store.head(key), null);
    });

    it("delete removes the object and succeeds again on an absent key", async () => {
      const key = `${prefix}delete/me.bin`;
      await store.putFile(key, small.path);
      await store.delete(key);
      assert.equal(await store.head(key), null);
      await store.delete(key);
      await store.delete(`${prefix}delete/never-existed.bin`);
    });

    it("list returns the objects under a prefix, with UTF-8 (Chinese) names", async () => {
      const base = `${prefix}list/`;
      const keys = [
        `${base}渠道/华为.apk`,
        `${base}渠道/小米 应用商店.apk`,
        `${base}other.txt`,
        `${prefix}listing.txt`,
      ];
      for (const key of keys) await store.putStream(key, Readable.from([Buffer.from(key)]));
      const infos = await listAll(store, `${base}渠道/`);
      assert.deepEqual(
        infos.map((i) => [i.key, i.size]),
        keys
          .slice(0, 2)
          .sort()
          .map((k) => [k, Buffer.byteLength(k)]),
      );
      assert.deepEqual(
        (await listAll(store, base)).map((i) => i.key),
        keys.slice(0, 3).sort(),
      );
      assert.deepEqual(
        (await listAll(store, `${prefix}list`)).map((i) => i.key),
        [...keys].sort(),
      );
      assert.deepEqual(await listAll(store, `${base}渠道/华`), [
        infos.find((i) => i.key.endsWith("华为.apk")),
      ]);
      assert.deepEqual(await listAll(store, `${prefix}nothing/`), []);
      assert.deepEqual(await bytesOf(await store.get(keys[1]!)), Buffer.from(keys[1]!));
    });

    it("invalid keys are rejected with E_BLOB_KEY and nothing is written", async () => {
      const before = await listAll(store, "");
      for (const key of INVALID_KEYS) {
        const shown = JSON.stringify(key).slice(0, 40);
        const err = await rejectsWith(store.putFile(key, small.path), "E_BLOB_KEY");
        assert.ok(err.message.includes(shown.slice(1, 20)), `${err.message} names ${shown}`);
        await rejectsWith(store.putStream(key, Readable.from([Buffer.from("x")])), "E_BLOB_KEY");
        await rejectsWith(store.get(key), "E_BLOB_KEY");
        await rejectsWith(store.head(key), "E_BLOB_KEY");
        await rejectsWith(store.delete(key), "E_BLOB_KEY");
      }
      await rejectsWith(listAll(store, "../"), "E_BLOB_KEY");
      assert.deepEqual(await listAll(store, ""), before);
      assert.deepEqual(await store.incompleteUploads(), []);
      assert.ok(
        before.every((info) => !info.key.startsWith(".gamedock")),
        "list never shows the store's own bookkeeping",
      );
    });

    it("overwrite replaces the object; an interrupted overwrite leaves the old one", async () => {
      const key = `${prefix}overwrite.bin`;
      const first = await store.putFile(key, small.path);
      const second = await store.putFile(key, other.path);
      assert.notEqual(second.etag, first.etag);
      assert.equal((await sha256Of(await store.get(key))).sha256, other.sha256);

      const controller = new AbortController();
      const interrupted = store.putFile(key, large.path, {
        signal: controller.signal,
        onCheckpoint: () => {
          controller.abort();
          return Promise.resolve();
        },
      });
      if (!target.multipart) controller.abort(); // no checkpoints: abort while it copies
      await assert.rejects(interrupted, { name: "AbortError" });
      const broken = Readable.from(
        (async function* () {
          yield Buffer.alloc(1000);
          await Promise.resolve();
          throw new Error("producer failed");
        })(),
      );
      await assert.rejects(store.putStream(key, broken), /producer failed/);
      assert.equal((await sha256Of(await store.get(key))).sha256, other.sha256);
      assert.equal((await store.head(key))?.etag, second.etag);
      // A failed stream upload leaves nothing behind (a stream cannot be resumed).
      if (target.multipart) {
        const left = await store.incompleteUploads(prefix);
        await Promise.all(left.map((upload) => store.abortUpload(upload)));
      }
      assert.deepEqual(await store.incompleteUploads(prefix), []);
    });

    it("an interrupted putFile resumes from its checkpoint and sends only the missing parts", async () => {
      const key = `${prefix}resume/big.bin`;
      const controller = new AbortController();
      const seen: UploadCheckpoint[] = [];
      const first = store.putFile(key, large.path, {
        signal: controller.signal,
        onCheckpoint: (checkpoint) => {
          seen.push(JSON.parse(JSON.stringify(checkpoint)) as UploadCheckpoint);
          if (checkpoint.parts.length > 0) controller.abort();
          return Promise.resolve();
        },
      });
      if (!target.multipart) {
        // No parts: the copy completes, and a checkpoint given later is ignored.
        const put = await first;
        assert.equal(put.partsUploaded, 0);
        assert.deepEqual(seen, []);
        const stale = { key, uploadId: "x", partSize: 1, size: large.size, parts: [] };
        const again = await store.putFile(key, large.path, { checkpoint: stale });
        assert.equal(again.partsUploaded, 0);
        assert.equal((await sha256Of(await store.get(key))).sha256, large.sha256);
        return;
      }
      await assert.rejects(first, { name: "AbortError" });
      assert.equal(await store.head(key), null, "nothing visible before completion");
      const checkpoint = seen.at(-1)!;
      assert.equal(checkpoint.key, key);
      assert.equal(checkpoint.size, large.size);
      assert.ok(checkpoint.parts.length >= 1);
      const numbers = checkpoint.parts.map((p) => p.number);
      assert.deepEqual(
        numbers,
        [...numbers].sort((a, b) => a - b),
      );
      const pending = await store.incompleteUploads(prefix);
      assert.deepEqual(
        pending.map((upload) => ({ key: upload.key, uploadId: upload.uploadId })),
        [{ key, uploadId: checkpoint.uploadId }],
      );
      assert.ok(pending[0]!.initiated instanceof Date && pending[0]!.initiated.getTime() > 0);

      const total = Math.ceil(large.size / checkpoint.partSize);
      assert.ok(total >= 3, `the large file spans ${total} parts`);
      const resumed = await store.putFile(key, large.path, { checkpoint });
      assert.equal(resumed.size, large.size);
      assert.equal(resumed.partsUploaded, total - checkpoint.parts.length);
      assert.ok(resumed.partsUploaded < total);
      assert.deepEqual(await sha256Of(await store.get(key)), {
        sha256: large.sha256,
        size: large.size,
      });
      assert.deepEqual(await store.incompleteUploads(prefix), []);
    });

    it("what a killed upload leaves is never visible and is removed: abortUpload (multipart) or removeAbandoned", async () => {
      const key = `${prefix}abort/left-behind.bin`;
      await target.leaveIncompleteUpload(key, large.path);
      assert.equal(await store.head(key), null);
      assert.deepEqual(await listAll(store, `${prefix}abort/`), []);
      const pending = await store.incompleteUploads(`${prefix}abort/`);
      if (target.multipart) {
        assert.deepEqual(
          pending.map((upload) => upload.key),
          [key],
        );
        await store.abortUpload(pending[0]!);
        assert.deepEqual(await store.incompleteUploads(`${prefix}abort/`), []);
        await store.abortUpload(pending[0]!); // already gone: still fine
        assert.equal(await store.removeAbandoned(), 0, "nothing on a bucket is provably abandoned");
      } else {
        assert.deepEqual(pending, [], "no multipart uploads: a temp file is not an upload");
        assert.ok((await store.removeAbandoned()) >= 1, "the dead writer's temp file went");
        assert.equal(await store.removeAbandoned(), 0);
      }
      assert.equal(await store.head(key), null);
      assert.deepEqual(await listAll(store, `${prefix}abort/`), []);
    });

    it("concurrent putFile of two keys stores both", async () => {
      const [a, b] = await Promise.all([
        store.putFile(`${prefix}concurrent/a.bin`, large.path),
        store.putFile(`${prefix}concurrent/b.bin`, small.path),
      ]);
      assert.equal(a.size, large.size);
      assert.equal(b.size, small.size);
      assert.equal((await sha256Of(await store.get(a.key))).sha256, large.sha256);
      assert.equal((await sha256Of(await store.get(b.key))).sha256, small.sha256);
      assert.deepEqual(await store.incompleteUploads(prefix), []);
    });

    it("putFile of a missing source file fails with E_NOT_FOUND naming it", async () => {
      const missing = join(dir, "no-such-file.apk");
      const err = await rejectsWith(
        store.putFile(`${prefix}missing-source.apk`, missing),
        "E_NOT_FOUND",
      );
      assert.match(err.message, /no-such-file\.apk/);
      assert.equal(await store.head(`${prefix}missing-source.apk`), null);
    });

    resumableConformance(() => target, `${prefix}resumable/`);
    composeConformance(
      () => target,
      `${prefix}compose/`,
      () => large,
    );
  });
}
