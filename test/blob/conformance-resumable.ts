/**
 * The resumable-upload part of the BlobStore conformance suite
 * (ResumableUploads in src/blob/contract.ts): an upload grows by appends
 * through two stores opened on the same target — as two processes or
 * instances would — and appears whole, and only, on complete. Sizes cross
 * S3's 5 MiB minimum part so that the s3 driver's parts and tail are used.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { MAX_RESUMABLE_KEY_BYTES, type BlobStore } from "../../src/blob/index.js";
import { bytesOf, listAll, rejectsWith } from "./blob-kit.js";
import type { ConformanceTarget } from "./conformance.js";

const MiB = 1024 * 1024;

/** `bytes` in uneven pieces, as a network delivers them. */
function piecesOf(bytes: Buffer): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = 50_000 + ((i * 7919) % 70_000);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return Readable.from(pieces);
}

/** Sends `bytes`, then fails like a client that went away. */
function failingAfter(bytes: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield* piecesOf(bytes);
      await Promise.resolve();
      throw new Error("the sender went away");
    })(),
  );
}

/** A key of exactly `bytes` bytes under `base`, in segments any file system can hold. */
function keyOfLength(base: string, bytes: number): string {
  let key = base;
  while (Buffer.byteLength(key) < bytes) {
    const left = bytes - Buffer.byteLength(key);
    key += left > 201 ? `${"k".repeat(200)}/` : "k".repeat(left);
  }
  return key;
}

async function uploadKeys(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const upload of store.resumable.list(prefix)) {
    assert.ok(upload.lastModified instanceof Date && upload.lastModified.getTime() > 0);
    keys.push(upload.key);
  }
  return keys.sort();
}

export function resumableConformance(target: () => ConformanceTarget, prefix: string): void {
  describe("resumable uploads", () => {
    let store: BlobStore;
    let other: BlobStore;

    before(async () => {
      store = target().store;
      other = await target().reopen();
    });
    after(async () => {
      await other.close();
    });

    /** Nothing of the upload at `key` shows as an object. */
    async function invisible(key: string): Promise<void> {
      assert.equal(await store.head(key), null);
      await rejectsWith(store.get(key), "E_NOT_FOUND");
      assert.ok(!(await listAll(store, prefix)).some((info) => info.key === key));
      assert.deepEqual(await store.incompleteUploads(prefix), []);
    }

    it("grows by appends through two stores on the target and appears whole only on complete", async () => {
      const key = `${prefix}grow/渠道包.apk`;
      const data = randomBytes(13 * MiB + 123);
      await store.resumable.begin(key, { contentType: "application/vnd.android.package-archive" });
      assert.equal(await store.resumable.offset(key), 0);
      assert.equal(await other.resumable.offset(key), 0, "the other store finds the upload");
      let offset = 0;
      const sizes = [3 * MiB, 4 * MiB, MiB + 123, 5 * MiB];
      for (const [i, size] of sizes.entries()) {
        const [writer, reader] = i % 2 === 0 ? [store, other] : [other, store];
        const next = await writer.resumable.append(
          key,
          offset,
          piecesOf(data.subarray(offset, offset + size)),
        );
        offset += size;
        assert.equal(next, offset);
        assert.equal(await reader.resumable.offset(key), offset);
        await invisible(key);
      }
      assert.deepEqual(await uploadKeys(store, `${prefix}grow/`), [key]);

      const info = await other.resumable.complete(key);
      assert.equal(info.key, key);
      assert.equal(info.size, data.length);
      assert.ok((await bytesOf(await store.get(key))).equals(data));
      assert.equal((await store.head(key))?.etag, info.etag);
      assert.equal(await store.resumable.offset(key), null, "the upload ended");
      assert.deepEqual(await uploadKeys(store, `${prefix}grow/`), []);
      assert.deepEqual(await store.incompleteUploads(prefix), []);
      await rejectsWith(store.resumable.complete(key), "E_NOT_FOUND");
    });

    it("a body that fails midway keeps the bytes that arrived", async () => {
      const key = `${prefix}cut/a.bin`;
      const data = randomBytes(6 * MiB + 2000);
      const cut = 6 * MiB + 1000;
      await store.resumable.begin(key);
      await assert.rejects(
        store.resumable.append(key, 0, failingAfter(data.subarray(0, cut))),
        /the sender went away/,
      );
      assert.equal(await store.resumable.offset(key), cut);
      assert.equal(await other.resumable.offset(key), cut);
      await invisible(key);
      assert.equal(
        await other.resumable.append(key, cut, piecesOf(data.subarray(cut))),
        data.length,
      );
      await store.resumable.complete(key);
      assert.ok((await bytesOf(await store.get(key))).equals(data));
    });

    it("an append stopped by its signal keeps the bytes that arrived and rejects with the reason", async () => {
      const key = `${prefix}stopped/a.bin`;
      const first = randomBytes(100_000); // above the stream's buffer: read() waits until it is taken
      const controller = new AbortController();
      let pushed = false;
      const stalled = new Readable({
        read() {
          if (pushed) controller.abort(new Error("stop now"));
          else this.push(first);
          pushed = true;
        },
      });
      await store.resumable.begin(key);
      await assert.rejects(
        store.resumable.append(key, 0, stalled, { signal: controller.signal }),
        /stop now/,
      );
      assert.equal(await other.resumable.offset(key), first.length);
      await store.resumable.complete(key);
      assert.ok((await bytesOf(await store.get(key))).equals(first));
    });

    it("read streams the stored bytes of an upload in progress, or answers null where the store cannot", async () => {
      const key = `${prefix}read/a.bin`;
      const data = randomBytes(6 * MiB + 321);
      await store.resumable.begin(key);
      assert.equal(await store.resumable.append(key, 0, piecesOf(data)), data.length);
      if (!target().readsUploadsInProgress) {
        assert.equal(await store.resumable.read(key, 0, data.length), null);
        assert.equal(await other.resumable.read(key, 0, 1), null);
        await store.resumable.abort(key);
        return;
      }
      const read = async (from: BlobStore, start: number, end: number): Promise<Buffer> => {
        const body = await from.resumable.read(key, start, end);
        assert.ok(body, "a store that reads uploads in progress answers a stream");
        return bytesOf(body);
      };
      assert.ok((await read(store, 0, data.length)).equals(data));
      assert.ok((await read(other, 1000, 5 * MiB + 7)).equals(data.subarray(1000, 5 * MiB + 7)));
      assert.equal((await read(other, data.length, data.length)).length, 0);
      for (const [start, end] of [
        [0, data.length + 1],
        [10, 5],
        [-1, 5],
        [0.5, 5],
      ] as const) {
        await rejectsWith(store.resumable.read(key, start, end), "E_INVALID_REQUEST");
      }
      // A reader that started before the upload completed still gets its bytes.
      const early = await store.resumable.read(key, 0, data.length);
      assert.ok(early);
      await other.resumable.complete(key);
      assert.ok((await bytesOf(early)).equals(data));
      await rejectsWith(store.resumable.read(key, 0, 0), "E_NOT_FOUND");
    });

    it("an append at another offset than the stored one is refused with E_UPLOAD_OFFSET and stores nothing", async () => {
      const key = `${prefix}offset/a.bin`;
      await store.resumable.begin(key);
      assert.equal(await store.resumable.append(key, 0, piecesOf(Buffer.alloc(1000, 1))), 1000);
      for (const wrong of [0, 999, 1001]) {
        const err = await rejectsWith(
          other.resumable.append(key, wrong, piecesOf(Buffer.alloc(10))),
          "E_UPLOAD_OFFSET",
        );
        assert.match(err.message, /1000/);
      }
      await rejectsWith(
        store.resumable.append(key, -1, piecesOf(Buffer.alloc(10))),
        "E_INVALID_REQUEST",
      );
      assert.equal(await store.resumable.offset(key), 1000);
      await rejectsWith(
        store.resumable.append(`${prefix}offset/never-begun`, 0, piecesOf(Buffer.alloc(10))),
        "E_NOT_FOUND",
      );
      await store.resumable.abort(key);
    });

    it("complete replaces an earlier object in one step; until then the old one is served", async () => {
      const key = `${prefix}replace/a.txt`;
      await store.putStream(key, Readable.from([Buffer.from("old")]));
      await store.resumable.begin(key);
      await store.resumable.append(key, 0, piecesOf(Buffer.from("the new bytes")));
      assert.equal((await bytesOf(await store.get(key))).toString(), "old");
      assert.equal((await store.head(key))?.size, 3);
      const info = await store.resumable.complete(key);
      assert.equal(info.size, 13);
      assert.equal((await bytesOf(await other.get(key))).toString(), "the new bytes");
    });

    it("an upload with no bytes completes to an empty object", async () => {
      const key = `${prefix}empty/a`;
      await store.resumable.begin(key);
      const info = await other.resumable.complete(key);
      assert.equal(info.size, 0);
      assert.equal((await bytesOf(await store.get(key))).length, 0);
    });

    it("abort removes the upload and every byte of it; begin again starts over", async () => {
      const key = `${prefix}abort/a.bin`;
      await store.resumable.begin(key);
      await store.resumable.append(key, 0, piecesOf(randomBytes(6 * MiB + 5)));
      assert.equal(await other.resumable.abort(key), true);
      assert.equal(await store.resumable.offset(key), null);
      assert.deepEqual(await uploadKeys(store, `${prefix}abort/`), []);
      await invisible(key);
      assert.equal(await store.resumable.abort(key), false, "already gone: still fine");
      await rejectsWith(store.resumable.append(key, 0, piecesOf(Buffer.alloc(1))), "E_NOT_FOUND");
      await rejectsWith(store.resumable.complete(key), "E_NOT_FOUND");

      await store.resumable.begin(key);
      await store.resumable.append(key, 0, piecesOf(Buffer.alloc(100)));
      await other.resumable.begin(key); // discards the upload in progress
      assert.equal(await store.resumable.offset(key), 0);
      await store.resumable.abort(key);
    });

    it("list names the uploads in progress under a prefix; removeAbandoned leaves them alone", async () => {
      const base = `${prefix}list/`;
      const keys = [`${base}a/1`, `${base}a/2`, `${base}b/1`];
      for (const key of keys) {
        await store.resumable.begin(key);
        await store.resumable.append(key, 0, piecesOf(Buffer.from(key)));
      }
      assert.deepEqual(await uploadKeys(other, `${base}a/`), keys.slice(0, 2));
      assert.deepEqual(await uploadKeys(other, base), keys);
      await store.removeAbandoned();
      await other.removeAbandoned();
      for (const key of keys) {
        assert.equal(await store.resumable.offset(key), Buffer.byteLength(key));
        await store.resumable.abort(key);
      }
      assert.deepEqual(await uploadKeys(store, base), []);
    });

    it("keys follow the key rules and are at most MAX_RESUMABLE_KEY_BYTES long", async () => {
      for (const key of ["../x", "a//b", ".gamedock/uploads/x", keyOfLength(prefix, 961)]) {
        await rejectsWith(store.resumable.begin(key), "E_BLOB_KEY");
        await rejectsWith(store.resumable.offset(key), "E_BLOB_KEY");
      }
      const longest = keyOfLength(prefix, MAX_RESUMABLE_KEY_BYTES);
      await store.resumable.begin(longest);
      assert.equal(await store.resumable.append(longest, 0, piecesOf(Buffer.from("x"))), 1);
      await store.resumable.complete(longest);
      assert.equal((await store.head(longest))?.size, 1);
    });
  });
}
