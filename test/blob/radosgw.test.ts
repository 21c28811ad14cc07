/**
 * The s3 driver against Ceph's radosgw (a production S3 implementation, in
 * RAM on loopback: test/helpers/radosgw.ts): the blob conformance suite,
 * where s3rver's gaps (ListParts, ListMultipartUploads, Abort, Content-MD5,
 * the minimum part size) are the real server's behaviour.
 */
import { openBlobStore, type UploadCheckpoint } from "../../src/blob/index.js";
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
