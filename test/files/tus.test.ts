/**
 * tus 1.0 through the handler on an fs target, over real HTTP: creation (with
 * and without upload), chunked PATCH, HEAD, termination, checksum, deferred
 * length, and every refusal with its status and error code.
 */
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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

    it("no Tus-Resumable → 412", async () => {
      const response = await fetch(`${server.url}/files/`, {
        method: "POST",
        headers: { "Upload-Length": "1" },
      });
      assert.equal(response.status, 412);
    });

    it("Content-Type offset stream on POST without Upload-Length is refused", async () => {
      const response = await fetch(`${server.url}/files/`, {
        method: "POST",
        headers: { ...TUS, "Content-Type": OFFSET_STREAM },
      });
      assert.equal(response.status, 400);
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
});
