/**
 * The s3 driver against s3rver on loopback: the conformance suite (5 MiB parts,
 * a 13 MiB file so multipart really happens), plus what only s3 has: failures
 * and whether they are retryable, the per-part Content-MD5, resume edge cases
 * and public URLs. What s3rver itself checks is listed in test/helpers/s3rver.ts.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  openBlobStore,
  type BlobStore,
  type BlobTargetConfig,
  type UploadCheckpoint,
} from "../../src/blob/index.js";
import { startS3rver, type S3rverHandle, s3TargetOf } from "../helpers/s3rver.js";
import { makeTestFile, rejectsWith, sha256Of, type TestFile } from "./blob-kit.js";
import { blobStoreConformance } from "./conformance.js";

const MiB = 1024 * 1024;
const PART_SIZE = 5 * MiB;
const LARGE = 13 * MiB; // three parts: 5 + 5 + 3 MiB

const s3Config = (
  server: S3rverHandle,
  overrides: Partial<Extract<BlobTargetConfig, { driver: "s3" }>> = {},
): BlobTargetConfig => s3TargetOf(server, { partSize: PART_SIZE, ...overrides });

/** Interrupts a putFile once `parts` parts are stored; returns the last checkpoint. */
async function interruptAfter(
  store: BlobStore,
  key: string,
  file: string,
  parts: number,
): Promise<UploadCheckpoint> {
  const controller = new AbortController();
  let last: UploadCheckpoint | null = null;
  await assert.rejects(
    store.putFile(key, file, {
      signal: controller.signal,
      onCheckpoint: (checkpoint) => {
        last = checkpoint;
        if (checkpoint.parts.length >= parts) controller.abort();
        return Promise.resolve();
      },
    }),
    { name: "AbortError" },
  );
  assert.ok(last);
  return last;
}

blobStoreConformance("s3 (s3rver)", async () => {
  const server = await startS3rver();
  const store = await openBlobStore(s3Config(server));
  return {
    store,
    multipart: true,
    compose: false,
    readsUploadsInProgress: false,
    largeFileSize: LARGE,
    async leaveIncompleteUpload(key, file) {
      await interruptAfter(store, key, file, 1);
    },
    reopen: () => openBlobStore(s3Config(server)),
    async close() {
      await store.close();
      await server.close();
    },
  };
});

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

async function md5OfRange(file: string, start: number, length: number): Promise<string> {
  const handle = await open(file, "r");
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, start);
    return createHash("md5").update(buffer).digest("base64");
  } finally {
    await handle.close();
  }
}

describe("s3 driver specifics (s3rver)", () => {
  let server: S3rverHandle;
  let store: BlobStore;
  let dir = "";
  let large: TestFile;
  let small: TestFile;

  before(async () => {
    server = await startS3rver();
    store = await openBlobStore(s3Config(server));
    dir = await mkdtemp(join(tmpdir(), "gamedock-blob-s3-"));
    large = await makeTestFile(dir, "large.bin", LARGE);
    small = await makeTestFile(dir, "small.bin", 4096);
  });
  after(async () => {
    await store.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sends every part and single PUT with its Content-MD5 and no CRC32 checksum headers", async () => {
    server.requests.length = 0;
    await store.putFile("md5/large.bin", large.path);
    await store.putFile("md5/small.bin", small.path);
    const puts = server.requests.filter((r) => r.method === "PUT");
    const parts = puts.filter((r) => r.url.includes("partNumber="));
    assert.equal(parts.length, 3);
    for (const request of parts) {
      const number = Number(/partNumber=(\d+)/.exec(request.url)?.[1]);
      const start = (number - 1) * PART_SIZE;
      const expected = await md5OfRange(large.path, start, Math.min(PART_SIZE, LARGE - start));
      assert.equal(request.headers["content-md5"], expected, `part ${number}`);
    }
    const single = puts.find((r) => r.url.includes("small.bin"));
    assert.equal(
      single?.headers["content-md5"],
      createHash("md5")
        .update(await readFile(small.path))
        .digest("base64"),
    );
    for (const request of server.requests) {
      assert.deepEqual(
        Object.keys(request.headers).filter((h) => h.startsWith("x-amz-checksum")),
        [],
      );
    }
  });

  it("a resume whose upload is gone starts a new upload", async () => {
    const checkpoint = await interruptAfter(store, "gone/big.bin", large.path, 1);
    await store.abortUpload({ key: checkpoint.key, uploadId: checkpoint.uploadId });
    const put = await store.putFile("gone/big.bin", large.path, { checkpoint });
    assert.equal(put.partsUploaded, 3);
    assert.equal((await sha256Of(await store.get("gone/big.bin"))).sha256, large.sha256);
    assert.deepEqual(await store.incompleteUploads("gone/"), []);
  });

  it("a checkpoint for a file of another size is aborted and the upload starts over", async () => {
    const checkpoint = await interruptAfter(store, "resized/big.bin", large.path, 1);
    const bigger = await makeTestFile(dir, "bigger.bin", LARGE + 1000);
    const put = await store.putFile("resized/big.bin", bigger.path, { checkpoint });
    assert.equal(put.partsUploaded, 3);
    assert.equal((await sha256Of(await store.get("resized/big.bin"))).sha256, bigger.sha256);
    assert.deepEqual(await store.incompleteUploads("resized/"), []);
  });

  it("publicUrl joins the configured base and the encoded key", async () => {
    assert.equal(store.publicUrl("a/b.apk"), null);
    const cdn = await openBlobStore(
      s3Config(server, { publicUrl: "https://cdn.example.com/games/" }),
    );
    try {
      assert.equal(
        cdn.publicUrl("渠道/华为 1.apk"),
        "https://cdn.example.com/games/%E6%B8%A0%E9%81%93/%E5%8D%8E%E4%B8%BA%201.apk",
      );
      await rejectsWith(
        Promise.resolve().then(() => cdn.publicUrl("../x")),
        "E_BLOB_KEY",
      );
    } finally {
      await cdn.close();
    }
  });

  it("a wrong bucket fails with E_UPLOAD_FAILED, not retryable, naming the bucket", async () => {
    const wrong = await openBlobStore(s3Config(server, { bucket: "no-such-bucket" }));
    try {
      for (const file of [small, large]) {
        const err = await rejectsWith(wrong.putFile("x/y.bin", file.path), "E_UPLOAD_FAILED");
        assert.equal(err.retryable, false);
        assert.match(err.message, /no-such-bucket.*NoSuchBucket/);
      }
      // (HEAD answers a missing bucket with a bare 404, like a missing key: head says null.)
      const read = await rejectsWith(wrong.get("x/y.bin"), "E_CONFIG");
      assert.equal(read.retryable, false);
    } finally {
      await wrong.close();
    }
  });

  it("an unknown access key fails with E_UPLOAD_FAILED, not retryable, without the secret", async () => {
    // s3rver checks the access key id; it does not verify signatures, so a wrong secret is not tested here.
    const secret = "very-secret-value-42";
    const wrong = await openBlobStore(
      s3Config(server, { accessKeyId: "NOT-A-KEY", secretAccessKey: secret }),
    );
    try {
      const err = await rejectsWith(wrong.putFile("x/y.bin", small.path), "E_UPLOAD_FAILED");
      assert.equal(err.retryable, false);
      assert.match(err.message, /InvalidAccessKeyId/);
      assert.ok(!JSON.stringify({ message: err.message, details: err.details }).includes(secret));
    } finally {
      await wrong.close();
    }
  });

  it("an endpoint that does not answer fails with a retryable E_SERVICE_UNAVAILABLE", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const down = await openBlobStore(s3Config(server, { endpoint }));
    try {
      const attempts = [
        () => down.putFile("x/y.bin", small.path),
        () => down.head("x/y.bin"),
        () => down.get("x/y.bin"),
      ];
      for (const attempt of attempts) {
        const err = await rejectsWith(attempt(), "E_SERVICE_UNAVAILABLE");
        assert.equal(err.retryable, true);
        assert.ok(err.message.includes(endpoint));
      }
    } finally {
      await down.close();
    }
  });

  it("keeps a resumable upload's books in .gamedock/: a state, and a tail under 5 MiB merged into the next part", async () => {
    const raw = new S3Client({
      endpoint: server.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    const books = async (): Promise<string[]> => {
      const page = await raw.send(
        new ListObjectsV2Command({ Bucket: server.bucket, Prefix: ".gamedock/" }),
      );
      return (page.Contents ?? []).map((object) => object.Key ?? "").sort();
    };
    const partsSent = (): { number: number; size: number }[] =>
      server.requests
        .filter((r) => r.method === "PUT" && r.url.includes("partNumber="))
        .map((r) => ({
          number: Number(/partNumber=(\d+)/.exec(r.url)?.[1]),
          size: Number(r.headers["content-length"]),
        }));
    try {
      const key = "books/渠道.bin";
      const data = randomBytes(9 * MiB);
      server.requests.length = 0;
      await store.resumable.begin(key);
      await store.resumable.append(key, 0, Readable.from([data.subarray(0, 3 * MiB)]));
      assert.deepEqual(await books(), [`.gamedock/parts/${key}@0`, `.gamedock/uploads/${key}`]);
      assert.deepEqual(partsSent(), [], "3 MiB is below S3's minimum part: kept as the tail");

      await store.resumable.append(key, 3 * MiB, Readable.from([data.subarray(3 * MiB)]));
      assert.deepEqual(partsSent(), [{ number: 1, size: PART_SIZE }]);
      assert.deepEqual(await books(), [
        `.gamedock/parts/${key}@${PART_SIZE}`,
        `.gamedock/uploads/${key}`,
      ]);
      assert.deepEqual(await store.incompleteUploads("books/"), [], "the upload's own multipart");

      await store.resumable.complete(key);
      assert.deepEqual(partsSent(), [
        { number: 1, size: PART_SIZE },
        { number: 2, size: 9 * MiB - PART_SIZE },
      ]);
      assert.deepEqual(await books(), []);
      assert.equal((await sha256Of(await store.get(key))).size, data.length);
    } finally {
      raw.destroy();
    }
  });

  it("refuses a part size below S3's 5 MiB minimum with E_CONFIG", async () => {
    const err = await rejectsWith(openBlobStore(s3Config(server, { partSize: MiB })), "E_CONFIG");
    assert.match(err.message, /partSize/);
  });
});

describe("s3 driver on a store without ListParts (s3rver as it is)", () => {
  let server: S3rverHandle;
  let store: BlobStore;
  let dir = "";
  before(async () => {
    server = await startS3rver({ multipartExtras: false });
    store = await openBlobStore(s3Config(server));
    dir = await mkdtemp(join(tmpdir(), "gamedock-blob-s3-"));
  });
  after(async () => {
    await store.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("resumes by trusting the checkpoint", async () => {
    const file = await makeTestFile(dir, `plain-${randomBytes(2).toString("hex")}.bin`, LARGE);
    const checkpoint = await interruptAfter(store, "plain/big.bin", file.path, 1);
    server.requests.length = 0;
    const put = await store.putFile("plain/big.bin", file.path, { checkpoint });
    assert.equal(put.partsUploaded, 3 - checkpoint.parts.length);
    assert.ok(
      server.requests.some((r) => r.method === "GET" && r.url.includes("uploadId=")),
      "asked ListParts first",
    );
    assert.equal((await sha256Of(await store.get("plain/big.bin"))).sha256, file.sha256);
  });
});
