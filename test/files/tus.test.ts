/**
 * tus 1.0 through the handler on an fs target, over real HTTP: creation (with
 * and without upload), chunked PATCH, HEAD, termination, checksum, deferred
 * length, and every refusal with its status and error code.
 */
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ManualClock } from "../../src/core/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import {
  MiB,
  OFFSET_STREAM,
  TUS,
  TusClient,
  checksumHeader,
  digestsOf,
  idOf,
  startTusServer,
  type TusServer,
} from "./tus-kit.js";

interface ErrorJson {
  error: { code: string; message: string };
}

async function errorOf(response: Response): Promise<ErrorJson["error"]> {
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return ((await response.json()) as ErrorJson).error;
}

describe("tus handler (fs target)", () => {
  let dir = "";
  let server: TusServer;
  let client: TusClient;
  const root = (): string => join(dir, "blobs");

  before(async () => {
    dir = await tempDir("gamedock-tus-");
    server = await startTusServer(dir, { maxUploadBytes: 64 * MiB });
    client = new TusClient(server.url);
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  it("advertises exactly what works in OPTIONS", async () => {
    const response = await client.options();
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("tus-version"), "1.0.0");
    assert.deepEqual(response.headers.get("tus-extension")?.split(","), [
      "creation",
      "creation-with-upload",
      "creation-defer-length",
      "termination",
      "expiration",
      "checksum",
    ]);
    assert.equal(response.headers.get("tus-checksum-algorithm"), "sha1,md5,sha256");
    assert.equal(response.headers.get("tus-max-size"), String(64 * MiB));
  });

  it("creates, takes chunks, reports the offset and registers the file with its digests", async () => {
    const bytes = Buffer.alloc(3 * MiB + 123, 7);
    bytes.write("渠道包", 1000);
    const created = await client.create({
      length: bytes.length,
      metadata: {
        filename: "渠道包 测试.apk",
        filetype: "application/vnd.android.package-archive",
      },
    });
    assert.equal(created.status, 201);
    const location = created.headers.get("location") ?? "";
    assert.match(location, /^\/files\/[A-Za-z0-9_-]+$/);
    assert.ok(created.headers.get("upload-expires"), "Upload-Expires on creation");
    const url = client.url(location);
    const id = idOf(url);

    const record = await server.metadata.getUpload(id);
    assert.equal(record?.owner, "local");
    assert.equal(record?.name, "渠道包 测试.apk");
    assert.equal(record?.size, bytes.length);

    let offset = 0;
    for (const size of [MiB, MiB, MiB + 123]) {
      const response = await client.patch(url, offset, bytes.subarray(offset, offset + size));
      assert.equal(response.status, 204, await response.text());
      offset += size;
      assert.equal(response.headers.get("upload-offset"), String(offset));
      if (offset < bytes.length) {
        assert.equal(await client.offset(url), offset);
        assert.ok(response.headers.get("upload-expires"), "Upload-Expires while unfinished");
      }
    }
    const file = await server.metadata.getFile(id);
    assert.ok(file, "file registered");
    assert.deepEqual({ sha256: file.sha256, md5: file.md5 }, digestsOf(bytes));
    assert.equal(file.size, bytes.length);
    assert.equal(file.name, "渠道包 测试.apk");
    assert.equal(file.contentType, "application/vnd.android.package-archive");
    assert.equal(file.blobKey, `tus/${id}`);
    assert.equal(await server.metadata.getUpload(id), null, "upload record gone");
    assert.deepEqual(
      (await readdir(join(root(), "tus"))).filter((name) => name.startsWith(id)),
      [id],
      "the info file is removed, the bytes stay as the blob",
    );

    const download = await fetch(`${server.url}/files/${id}`);
    assert.equal(download.status, 200);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(bytes));

    // A client that lost the last response asks again: the upload is complete.
    const head = await client.head(url);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("upload-offset"), String(bytes.length));
    assert.equal(head.headers.get("upload-length"), String(bytes.length));
  });

  it("creation-with-upload: a body on POST is the first chunk, or the whole upload", async () => {
    const bytes = Buffer.from("hello tus ".repeat(1000));
    const partial = await client.create({
      length: bytes.length,
      metadata: { filename: "part.txt" },
      body: bytes.subarray(0, 4000),
    });
    assert.equal(partial.status, 201);
    assert.equal(partial.headers.get("upload-offset"), "4000");
    const url = client.url(partial.headers.get("location") ?? "");
    const rest = await client.patch(url, 4000, bytes.subarray(4000));
    assert.equal(rest.status, 204);
    const file = await server.metadata.getFile(idOf(url));
    assert.equal(file?.sha256, digestsOf(bytes).sha256);

    const other = Buffer.from("the whole thing in one POST");
    const whole = await client.create({
      length: other.length,
      metadata: { filename: "one.txt" },
      body: other,
    });
    assert.equal(whole.status, 201);
    assert.equal(whole.headers.get("upload-offset"), String(other.length));
    const oneFile = await server.metadata.getFile(
      idOf(client.url(whole.headers.get("location") ?? "")),
    );
    assert.deepEqual(
      { sha256: oneFile?.sha256, md5: oneFile?.md5, size: oneFile?.size },
      { ...digestsOf(other), size: other.length },
    );
  });

  it("an empty upload is a file at once", async () => {
    const created = await client.create({ length: 0, metadata: { filename: "empty" } });
    assert.equal(created.status, 201);
    const file = await server.metadata.getFile(
      idOf(client.url(created.headers.get("location") ?? "")),
    );
    assert.equal(file?.size, 0);
    assert.equal(file?.sha256, digestsOf(Buffer.alloc(0)).sha256);
  });

  it("identical content is stored once", async () => {
    const bytes = Buffer.from("same bytes, two uploads");
    const first = await client.start(bytes.length);
    assert.equal((await client.patch(first, 0, bytes)).status, 204);
    const second = await client.start(bytes.length);
    assert.equal((await client.patch(second, 0, bytes)).status, 204);
    const [a, b] = await Promise.all([
      server.metadata.getFile(idOf(first)),
      server.metadata.getFile(idOf(second)),
    ]);
    assert.equal(b?.blobKey, a?.blobKey);
    await assert.rejects(stat(join(root(), "tus", idOf(second))), "the duplicate copy is deleted");
  });

  it("deferred length: the size is declared on a later PATCH", async () => {
    const bytes = Buffer.alloc(300_000, 3);
    const created = await client.create({ defer: true, metadata: { filename: "stream.bin" } });
    assert.equal(created.status, 201);
    const url = client.url(created.headers.get("location") ?? "");
    const head = await client.head(url);
    assert.equal(head.headers.get("upload-defer-length"), "1");
    assert.equal((await client.patch(url, 0, bytes.subarray(0, 100_000))).status, 204);
    const last = await client.patch(url, 100_000, bytes.subarray(100_000), {
      "Upload-Length": String(bytes.length),
    });
    assert.equal(last.status, 204);
    const file = await server.metadata.getFile(idOf(url));
    assert.equal(file?.sha256, digestsOf(bytes).sha256);
  });

  it("termination removes the bytes, the info file and the record", async () => {
    const url = await client.start(1000);
    assert.equal((await client.patch(url, 0, Buffer.alloc(400))).status, 204);
    const id = idOf(url);
    const removed = await client.delete(url);
    assert.equal(removed.status, 204);
    assert.deepEqual(
      (await readdir(join(root(), "tus"))).filter((name) => name.startsWith(id)),
      [],
    );
    assert.equal(await server.metadata.getUpload(id), null);
    assert.equal((await client.head(url)).status, 404);
  });

  it("a finished upload cannot be terminated through tus", async () => {
    const url = await client.start(3);
    assert.equal((await client.patch(url, 0, Buffer.from("abc"))).status, 204);
    const refused = await client.delete(url);
    assert.equal(refused.status, 400);
    assert.equal((await errorOf(refused)).code, "E_INVALID_REQUEST");
    assert.ok(await server.metadata.getFile(idOf(url)));
  });

  describe("checksum extension", () => {
    it("accepts a chunk whose checksum matches, for sha1, md5 and sha256", async () => {
      const bytes = Buffer.from("0123456789".repeat(30));
      const url = await client.start(bytes.length);
      let offset = 0;
      for (const algorithm of ["sha1", "md5", "sha256"] as const) {
        const chunk = bytes.subarray(offset, offset + 100);
        const response = await client.patch(url, offset, chunk, {
          "Upload-Checksum": checksumHeader(algorithm, chunk),
        });
        assert.equal(response.status, 204, algorithm);
        offset += 100;
      }
      const file = await server.metadata.getFile(idOf(url));
      assert.equal(file?.md5, digestsOf(bytes).md5);
    });

    it("answers 460 to a mismatch and discards the chunk", async () => {
      const bytes = Buffer.alloc(2000, 9);
      const url = await client.start(bytes.length);
      assert.equal((await client.patch(url, 0, bytes.subarray(0, 1000))).status, 204);
      const wrong = await client.patch(url, 1000, bytes.subarray(1000), {
        "Upload-Checksum": checksumHeader("sha256", Buffer.from("something else")),
      });
      assert.equal(wrong.status, 460);
      assert.equal((await errorOf(wrong)).code, "E_CHECKSUM");
      assert.equal(await client.offset(url), 1000, "offset unchanged");
      const right = await client.patch(url, 1000, bytes.subarray(1000), {
        "Upload-Checksum": checksumHeader("sha256", bytes.subarray(1000)),
      });
      assert.equal(right.status, 204);
      const file = await server.metadata.getFile(idOf(url));
      assert.equal(file?.sha256, digestsOf(bytes).sha256, "digests never saw the discarded chunk");
      assert.deepEqual(await readdir(join(dir, "spool")), [], "spool cleaned up");
    });

    it("checks a creation-with-upload body too", async () => {
      const body = Buffer.from("first chunk in the POST");
      const wrong = await client.create({
        length: 100,
        body,
        headers: { "Upload-Checksum": checksumHeader("md5", Buffer.from("other")) },
      });
      assert.equal(wrong.status, 460);
      const right = await client.create({
        length: 100,
        body,
        headers: { "Upload-Checksum": checksumHeader("md5", body) },
      });
      assert.equal(right.status, 201);
      assert.equal(right.headers.get("upload-offset"), String(body.length));
    });

    it("refuses an unsupported algorithm or a malformed digest with 400", async () => {
      const url = await client.start(10);
      for (const value of ["crc32 AAAAAA==", "sha256 not-base64!", "md5 AAAA"]) {
        const response = await client.patch(url, 0, Buffer.alloc(10), { "Upload-Checksum": value });
        assert.equal(response.status, 400, value);
        assert.equal((await errorOf(response)).code, "E_INVALID_REQUEST");
      }
      assert.equal(await client.offset(url), 0);
    });
  });

  describe("refusals", () => {
    it("wrong Upload-Offset → 409", async () => {
      const url = await client.start(100);
      const response = await client.patch(url, 50, Buffer.alloc(10));
      assert.equal(response.status, 409);
      assert.equal((await errorOf(response)).code, "E_UPLOAD_OFFSET");
    });

    it("PATCH without application/offset+octet-stream → 415", async () => {
      const url = await client.start(100);
      for (const type of ["application/octet-stream", null]) {
        const headers: Record<string, string> = { ...TUS, "Upload-Offset": "0" };
        if (type) headers["Content-Type"] = type;
        const response = await fetch(url, { method: "PATCH", headers, body: new Uint8Array(10) });
        assert.equal(response.status, 415, String(type));
        assert.equal((await errorOf(response)).code, "E_CONTENT_TYPE");
      }
      assert.equal(await client.offset(url), 0);
    });

    it("Upload-Length over files.maxUploadBytes → 413", async () => {
      const response = await client.create({ length: 64 * MiB + 1 });
      assert.equal(response.status, 413);
      const error = await errorOf(response);
      assert.equal(error.code, "E_TOO_LARGE");
      assert.match(error.message, /67108864/);
    });

    it("a body longer than Upload-Length → 413", async () => {
      const url = await client.start(10);
      const response = await client.patch(url, 0, Buffer.alloc(20));
      assert.equal(response.status, 413);
      assert.equal((await errorOf(response)).code, "E_TOO_LARGE");
    });

    it("unknown or impossible ids → 404", async () => {
      for (const id of ["lq0abcdefghijklmnopqrstu", "a.b", "a%20b", "x".repeat(65)]) {
        const url = `${server.url}/files/${id}`;
        const head = await client.head(url);
        assert.equal(head.status, 404, id);
        const patch = await client.patch(url, 0, Buffer.alloc(1));
        assert.equal(patch.status, 404, id);
        assert.equal((await errorOf(patch)).code, "E_NOT_FOUND");
      }
    });

    it("file names with a path separator or control characters → 400 E_FILE_NAME", async () => {
      for (const filename of ["../etc/passwd", "a\\b", "bad\nname", "x".repeat(256)]) {
        const response = await client.create({ length: 1, metadata: { filename } });
        assert.equal(response.status, 400, JSON.stringify(filename));
        assert.equal((await errorOf(response)).code, "E_FILE_NAME");
      }
      const badType = await client.create({
        length: 1,
        metadata: { filename: "ok", filetype: "not a type" },
      });
      assert.equal(badType.status, 400);
    });

    it("no or another Tus-Resumable → 412 E_TUS_VERSION, in the JSON shape", async () => {
      const url = await client.start(10);
      for (const [method, target, headers] of [
        ["POST", `${server.url}/files/`, { "Upload-Length": "1" }],
        ["PATCH", url, { "Upload-Offset": "0", "Content-Type": OFFSET_STREAM }],
      ] as const) {
        const response = await fetch(target, { method, headers, body: new Uint8Array(1) });
        assert.equal(response.status, 412, method);
        assert.equal(response.headers.get("tus-version"), "1.0.0");
        const error = await errorOf(response);
        assert.equal(error.code, "E_TUS_VERSION");
        assert.match(error.message, /Tus-Resumable: 1\.0\.0/);
      }
      const older = await client.create({ length: 1, headers: { "Tus-Resumable": "0.2.2" } });
      assert.equal(older.status, 400);
      assert.equal((await errorOf(older)).code, "E_INVALID_REQUEST");
    });

    it("malformed tus headers → 400 E_INVALID_REQUEST naming them, in the JSON shape", async () => {
      const url = await client.start(10);
      const offset = await fetch(url, {
        method: "PATCH",
        headers: { ...TUS, "Content-Type": OFFSET_STREAM, "Upload-Offset": "zero" },
        body: new Uint8Array(1),
      });
      assert.equal(offset.status, 400);
      const error = await errorOf(offset);
      assert.equal(error.code, "E_INVALID_REQUEST");
      assert.match(error.message, /upload-offset/);
      const malformed: Record<string, string>[] = [
        { "Upload-Length": "-1" },
        { "Upload-Defer-Length": "yes" },
        { "Upload-Length": "1", "Upload-Metadata": "filename not base64!" },
      ];
      for (const headers of malformed) {
        const response = await client.create({ headers });
        assert.equal(response.status, 400, JSON.stringify(headers));
        assert.equal((await errorOf(response)).code, "E_INVALID_REQUEST");
      }
      assert.equal(await client.offset(url), 0);
    });

    it("Content-Type offset stream on POST without Upload-Length is refused", async () => {
      const response = await fetch(`${server.url}/files/`, {
        method: "POST",
        headers: { ...TUS, "Content-Type": OFFSET_STREAM },
      });
      assert.equal(response.status, 400);
      assert.equal((await errorOf(response)).code, "E_INVALID_REQUEST");
    });
  });
});

describe("tus handler limits", () => {
  let dir = "";
  before(async () => {
    dir = await tempDir("gamedock-tus-quota-");
  });
  after(async () => {
    await removeDir(dir);
  });

  it("quota: uploads in progress count; passing it → 413 E_QUOTA", async () => {
    const server = await startTusServer(dir, { quotaBytes: 1000 });
    try {
      const client = new TusClient(server.url);
      assert.equal((await client.create({ length: 600 })).status, 201);
      const over = await client.create({ length: 600 });
      assert.equal(over.status, 413);
      assert.equal((await errorOf(over)).code, "E_QUOTA");
      assert.equal((await client.create({ length: 400 })).status, 201);

      // A deferred length is checked when it is declared.
      const deferred = await client.create({ defer: true });
      assert.equal(deferred.status, 201);
      const url = client.url(deferred.headers.get("location") ?? "");
      const declared = await client.patch(url, 0, Buffer.alloc(10), { "Upload-Length": "100" });
      assert.equal(declared.status, 413);
      assert.equal((await errorOf(declared)).code, "E_QUOTA");
      assert.equal(await client.offset(url), 0);
    } finally {
      await server.close();
    }
  });

  it("parallel uploads: exactly as many as fit are accepted; termination gives space back", async () => {
    const quota = 10 * MiB;
    const server = await startTusServer(await tempDir("gamedock-tus-parallel-"), {
      quotaBytes: quota,
    });
    try {
      const client = new TusClient(server.url);
      const bodies = Array.from({ length: 5 }, (_, i) => Buffer.alloc(3 * MiB, i + 1));
      // Five creations at once, each of them followed by its whole body.
      const results = await Promise.all(
        bodies.map(async (body) => {
          const created = await client.create({ length: body.length });
          if (created.status !== 201)
            return { status: created.status, error: await errorOf(created) };
          const url = client.url(created.headers.get("location") ?? "");
          const patched = await client.patch(url, 0, body);
          return { status: patched.status, url };
        }),
      );
      const stored = results.filter((r) => r.status === 204);
      assert.equal(stored.length, 3, results.map((r) => r.status).join(" "));
      for (const refused of results.filter((r) => r.status !== 204)) {
        assert.equal(refused.status, 413);
        assert.equal(refused.error?.code, "E_QUOTA");
      }
      assert.equal(await server.metadata.usedBytes("local"), 9 * MiB);

      // One more that fits, terminated halfway: its space comes back.
      const rest = await client.start(MiB);
      assert.equal((await client.patch(rest, 0, Buffer.alloc(MiB / 2))).status, 204);
      assert.equal(await server.metadata.usedBytes("local"), quota);
      assert.equal((await client.create({ length: 1 })).status, 413);
      assert.equal((await client.delete(rest)).status, 204);
      assert.equal(await server.metadata.usedBytes("local"), 9 * MiB);
      assert.equal((await client.create({ length: MiB })).status, 201);
    } finally {
      await server.close();
    }
  });

  it("a deferred length: held as bytes arrive, stops at the quota and says so", async () => {
    const server = await startTusServer(await tempDir("gamedock-tus-deferred-"), {
      quotaBytes: 3 * MiB,
    });
    try {
      const client = new TusClient(server.url);
      const used = await client.start(MiB);
      assert.equal((await client.patch(used, 0, Buffer.alloc(MiB, 1))).status, 204);
      const created = await client.create({ defer: true, metadata: { filename: "live.bin" } });
      const url = client.url(created.headers.get("location") ?? "");
      const bytes = Buffer.alloc(3 * MiB, 7);
      bytes.write("the start", 0);
      assert.equal((await client.patch(url, 0, bytes.subarray(0, MiB))).status, 204);
      // 2 MiB more would pass the quota by one MiB: the PATCH keeps what fits.
      const stopped = await client.patch(url, MiB, bytes.subarray(MiB));
      assert.equal(stopped.status, 413);
      const error = await errorOf(stopped);
      assert.equal(error.code, "E_QUOTA");
      assert.match(error.message, new RegExp(`at byte ${2 * MiB}`));
      assert.equal(await client.offset(url), 2 * MiB);
      assert.equal(await server.metadata.usedBytes("local"), 3 * MiB);
      // Nothing more fits; declaring the length where it stopped makes it a file.
      assert.equal((await client.patch(url, 2 * MiB, Buffer.alloc(1))).status, 413);
      const end = await client.patch(url, 2 * MiB, Buffer.alloc(0), {
        "Upload-Length": String(2 * MiB),
      });
      assert.equal(end.status, 204);
      const file = await server.metadata.getFile(idOf(url));
      assert.equal(file?.sha256, digestsOf(bytes.subarray(0, 2 * MiB)).sha256);
      assert.equal(await server.metadata.usedBytes("local"), 3 * MiB);
    } finally {
      await server.close();
    }
  });

  it("an expired upload gives its space back once swept", async () => {
    const clock = new ManualClock();
    const server = await startTusServer(await tempDir("gamedock-tus-expiry-"), {
      quotaBytes: 1000,
      uploadTtlSeconds: 3600,
      clock,
    });
    try {
      const client = new TusClient(server.url);
      const url = await client.start(800);
      assert.equal((await client.patch(url, 0, Buffer.alloc(100))).status, 204);
      assert.equal((await client.create({ length: 800 })).status, 413);
      clock.advance(3601_000);
      assert.equal((await client.head(url)).status, 410);
      const patch = await client.patch(url, 100, Buffer.alloc(10));
      assert.equal(patch.status, 410);
      assert.equal((await errorOf(patch)).code, "E_UPLOAD_EXPIRED");
      assert.equal(await server.handler.sweepExpired(), 1);
      assert.equal(await server.metadata.usedBytes("local"), 0);
      assert.equal((await client.create({ length: 800 })).status, 201);
    } finally {
      await server.close();
    }
  });
});
