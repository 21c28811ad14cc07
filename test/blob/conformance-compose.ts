/**
 * The compose part of the BlobStore conformance suite: an object made of a
 * range of another object plus a tail, by the store itself. Where the store
 * has no server-side copy (s3rver), the probe says so and compose fails for
 * good, leaving nothing.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { BlobStore } from "../../src/blob/index.js";
import { bytesOf, listAll, rejectsWith } from "./blob-kit.js";
import type { ConformanceTarget } from "./conformance.js";

export function composeConformance(
  current: () => ConformanceTarget,
  prefix: string,
  sourceFile: () => { path: string },
): void {
  describe("compose", () => {
    let n = 0;
    const key = (): string => `${prefix}${++n}-${randomBytes(3).toString("hex")}.apk`;
    /** The source object, put once: the large test file. */
    let sourceKey: string | null = null;
    let sourceBytes: Buffer = Buffer.alloc(0);
    const source = async (store: BlobStore): Promise<string> => {
      if (sourceKey === null) {
        sourceKey = `${prefix}mother.apk`;
        await store.putFile(sourceKey, sourceFile().path);
        sourceBytes = await bytesOf(await store.get(sourceKey));
      }
      return sourceKey;
    };

    it("writes a range of another object followed by a tail, byte for byte", async () => {
      const { store, compose } = current();
      const from = await source(store);
      if (!compose) {
        // Used anyway, compose fails for good (no retry can help) and leaves no upload.
        const whole = { key: from, start: 0, length: sourceBytes.length };
        const failed = await rejectsWith(
          store.compose(key(), whole, Buffer.alloc(0)),
          "E_UPLOAD_FAILED",
        );
        assert.equal(failed.retryable, false);
        assert.deepEqual(await store.incompleteUploads(prefix), []);
        return;
      }
      const tail = Buffer.from("signing block + central directory + EOCD, a few KB in real life");
      for (const start of [0, 1001]) {
        const length = Math.max(store.composeMinBytes + 123, Math.floor(sourceBytes.length / 2));
        const k = key();
        const put = await store.compose(k, { key: from, start, length }, tail);
        const want = Buffer.concat([sourceBytes.subarray(start, start + length), tail]);
        assert.equal(put.size, want.length);
        assert.ok((await bytesOf(await store.get(k))).equals(want), `range from ${start}`);
        assert.equal((await store.head(k))?.etag, put.etag);
      }
      // No tail: the range alone, of any length, even under the minimum part size.
      const k = key();
      await store.compose(k, { key: from, start: 7, length: 100 }, Buffer.alloc(0));
      assert.ok((await bytesOf(await store.get(k))).equals(sourceBytes.subarray(7, 107)));
      assert.deepEqual(await store.incompleteUploads(prefix), []);
    });

    it("refuses bad ranges (E_RANGE) and a missing source (E_NOT_FOUND), writing nothing", async () => {
      const { store, compose } = current();
      const from = await source(store);
      const tail = Buffer.from("tail");
      const k = key();
      // What only a store that copies can answer.
      if (compose) {
        const past = {
          key: from,
          start: sourceBytes.length - 10,
          length: store.composeMinBytes + 20,
        };
        await rejectsWith(store.compose(k, past, tail), "E_RANGE");
        const missing = { key: `${prefix}no-such-mother.apk`, start: 0, length: 10 };
        await rejectsWith(store.compose(k, missing, Buffer.alloc(0)), "E_NOT_FOUND");
      }
      // What every driver checks before asking its store.
      await rejectsWith(store.compose(k, { key: from, start: -1, length: 10 }, tail), "E_RANGE");
      await rejectsWith(store.compose(k, { key: from, start: 0, length: 0 }, tail), "E_RANGE");
      if (store.composeMinBytes > 1) {
        const short = { key: from, start: 0, length: store.composeMinBytes - 1 };
        await rejectsWith(store.compose(k, short, tail), "E_RANGE");
      }
      assert.equal(await store.head(k), null);
      assert.deepEqual(await store.incompleteUploads(prefix), []);
    });

    it("probeCompose answers for the store and leaves nothing behind", async () => {
      const { store, compose } = current();
      const probe = await store.probeCompose();
      assert.equal(probe.supported, compose, JSON.stringify(probe));
      if (!probe.supported) assert.match(probe.reason, /NotImplemented|UploadPartCopy/);
      assert.deepEqual(await store.incompleteUploads(), []);
      const top = prefix.split("/")[0]!;
      assert.deepEqual(
        (await listAll(store, "")).filter((o) => !o.key.startsWith(top)),
        [],
        "the probe left no object",
      );
    });
  });
}
