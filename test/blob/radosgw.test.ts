/**
 * The s3 driver against Ceph's radosgw (a production S3 implementation, in
 * RAM on loopback: test/helpers/radosgw.ts): the blob conformance suite,
 * where s3rver's gaps (ListParts, ListMultipartUploads, Abort, Content-MD5,
 * the minimum part size) are the real server's behaviour.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { openBlobStore, type UploadCheckpoint } from "../../src/blob/index.js";
import { removeAbandonedProbes } from "../../src/blob/s3/s3-compose.js";
import { openRadosgwBucket } from "../helpers/radosgw.js";
import { skipUnlessService } from "../helpers/services.js";
import { blobStoreConformance } from "./conformance.js";

const skip = await skipUnlessService("radosgw");

blobStoreConformance(
  "s3 (radosgw)",
  async () => {
    const bucket = await openRadosgwBucket("conf");
    const store = await openBlobStore(bucket.target);
    return {
      store,
      multipart: true,
      compose: true,
      readsUploadsInProgress: false,
      largeFileSize: 13 * 1024 * 1024,
      async leaveIncompleteUpload(key, file) {
        // Stop after the first stored part, as a writer killed mid-upload.
        const controller = new AbortController();
        let checkpoint: UploadCheckpoint | null = null;
        await store
          .putFile(key, file, {
            signal: controller.signal,
            onCheckpoint: (next) => {
              checkpoint = next;
              if (next.parts.length >= 1) controller.abort();
              return Promise.resolve();
            },
          })
          .catch(() => undefined);
        if (!checkpoint) throw new Error(`no part of ${key} was stored before the stop`);
      },
      reopen: () => openBlobStore(bucket.target),
      async close() {
        await store.close();
        await bucket.drop();
      },
    };
  },
  { skip },
);

describe("s3 removeAbandoned on radosgw", { skip }, () => {
  it("removes what a killed compose probe left once it is old, and nothing of users' keys", async () => {
    const bucket = await openRadosgwBucket("probe");
    const store = await openBlobStore(bucket.target);
    try {
      const Bucket = bucket.target.bucket;
      const probe = ".gamedock/probe/compose-killed";
      await bucket.client.send(new PutObjectCommand({ Bucket, Key: `${probe}.source`, Body: "x" }));
      await bucket.client.send(new CreateMultipartUploadCommand({ Bucket, Key: `${probe}.copy` }));
      await bucket.client.send(new CreateMultipartUploadCommand({ Bucket, Key: "user/file.bin" }));
      const uploadKeys = async () =>
        ((await bucket.client.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []).map(
          (u) => u.Key,
        );
      assert.deepEqual(
        (await store.incompleteUploads()).map((u) => u.key),
        ["user/file.bin"],
        "the store's own area is not reported",
      );
      assert.equal(await store.removeAbandoned(), 0, "a probe minutes old may still be running");
      const target = {
        client: bucket.client,
        endpoint: bucket.target.endpoint,
        bucket: Bucket,
        partSize: bucket.target.partSize,
        partConcurrency: 1,
      };
      assert.equal(await removeAbandonedProbes(target, 0), 2, "an upload and a source object");
      assert.deepEqual(await uploadKeys(), ["user/file.bin"]);
      const left = await bucket.client.send(new ListObjectsV2Command({ Bucket }));
      assert.equal(left.KeyCount ?? 0, 0);
    } finally {
      await store.close();
      await bucket.drop();
    }
  });
});

describe("compose probe on radosgw", { skip }, () => {
  it("says no, with the store's reason, to credentials that cannot write", async () => {
    const bucket = await openRadosgwBucket("probe-denied");
    const denied = await openBlobStore({ ...bucket.target, secretAccessKey: "not-the-secret" });
    try {
      const probe = await denied.probeCompose();
      assert.equal(probe.supported, false);
      assert.match(probe.supported ? "" : probe.reason, /SignatureDoesNotMatch|AccessDenied|403/);
      const allowed = await openBlobStore(bucket.target);
      assert.deepEqual(await allowed.probeCompose(), { supported: true });
      await allowed.close();
    } finally {
      await denied.close();
      await bucket.drop();
    }
  });
});
