/**
 * PUT /files/:name over real HTTP: streaming to the store with digests,
 * dedupe, TTLs, and every bad input — names, sizes, quota, content types,
 * clients that go away — answered with its code and leaving nothing stored.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { after, before, describe, it } from "node:test";
import { tempDir } from "../helpers/cli.js";
import {
  putFile,
  rawRequest,
  startFilesServer,
  storedObjects,
  type ErrorBody,
  type FileBody,
  type FilesTestServer,
} from "../helpers/files-server.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { SqlFileMetadata } from "../../src/files/index.js";

const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");
const md5 = (bytes: Buffer | string): string => createHash("md5").update(bytes).digest("hex");
const codeOf = (json: unknown): string => (json as ErrorBody).error.code;
const run = promisify(execFile);

/** Polls `check` until it holds (5 s at most): the server finishes a cut request in its own time. */
async function eventually(check: () => Promise<boolean>, what = "the condition"): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await check()) return;
    await delay(25);
  }
  assert.fail(`never: ${what}`);
}

describe("PUT /files/:name", () => {
  let server: FilesTestServer;

  before(async () => {
    server = await startFilesServer({
      files: { maxUploadBytes: 4096, sweepIntervalMs: 3_600_000 },
    });
  });
  after(async () => {
    await server.close();
  });

  it("streams the body in and answers 201 with id, digests and URL", async () => {
    const body = randomBytes(3000);
    const { status, json, headers } = await putFile(server.url, "data.bin", body, {
      headers: { "content-type": "image/png" },
    });
    assert.equal(status, 201, JSON.stringify(json));
    const file = json as FileBody;
    assert.match(file.id, /^[A-Za-z0-9_-]{1,64}$/);
    assert.equal(file.name, "data.bin");
    assert.equal(file.size, 3000);
    assert.equal(file.sha256, sha256(body));
    assert.equal(file.md5, md5(body));
    assert.equal(file.contentType, "image/png");
    assert.equal(file.url, `/files/${file.id}`);
    assert.equal(headers.get("location"), file.url);
    assert.ok(Math.abs(Date.parse(file.createdAt) - Date.now()) < 10_000);
    assert.equal(file.expiresAt, null);
    const download = await fetch(`${server.url}${file.url}`);
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), body);
    assert.equal(download.headers.get("content-type"), "image/png");
  });

  it("takes Chinese names up to 255 bytes and defaults the content type", async () => {
    const exact = `${"游".repeat(84)}.gz`; // 84 × 3 + 3 = 255 bytes of UTF-8
    assert.equal(Buffer.byteLength(exact), 255);
    const { status, json } = await putFile(server.url, exact, Buffer.from("你好"));
    assert.equal(status, 201, JSON.stringify(json));
    const file = json as FileBody;
    assert.equal(file.name, exact);
    assert.equal(file.contentType, "application/octet-stream");
    const head = await fetch(`${server.url}${file.url}`, { method: "HEAD" });
    // The fallback would be 759 characters, more than a file name may be: cut, hashed, .gz kept.
    const disposition = head.headers.get("content-disposition") ?? "";
    const fallback = /filename="([^"]*)"/.exec(disposition)?.[1] ?? "";
    assert.ok(fallback.length <= 200, fallback);
    assert.match(fallback, /^(%E6%B8%B8)+~[0-9a-f]{12}\.gz$/);
    assert.ok(disposition.endsWith(`; filename*=UTF-8''${encodeURIComponent(exact)}`));
  });

  it("sets expiresAt from ?ttl (default files.fileTtlSeconds, 0 = never)", async () => {
    const timed = await putFile(server.url, "t.txt", "ttl", { query: "?ttl=3600" });
    assert.equal(timed.status, 201);
    const expiresAt = Date.parse((timed.json as FileBody).expiresAt ?? "");
    assert.ok(Math.abs(expiresAt - (Date.now() + 3_600_000)) < 10_000, String(expiresAt));
    const never = await putFile(server.url, "n.txt", "ttl", { query: "?ttl=0" });
    assert.equal((never.json as FileBody).expiresAt, null);
    for (const ttl of ["-1", "1.5", "abc", "99999999999"]) {
      const bad = await putFile(server.url, "b.txt", "x", { query: `?ttl=${ttl}` });
      assert.equal(bad.status, 400, ttl);
      assert.equal(codeOf(bad.json), "E_INVALID_REQUEST");
    }
  });

  it("stores identical content once", async () => {
    const before = await storedObjects(server.data);
    const body = randomBytes(1000);
    const a = (await putFile(server.url, "a.bin", body)).json as FileBody;
    const b = (await putFile(server.url, "b.bin", body)).json as FileBody;
    assert.notEqual(a.id, b.id);
    assert.equal(a.sha256, b.sha256);
    const added = (await storedObjects(server.data)).filter((key) => !before.includes(key));
    assert.deepEqual(added, [`put/${a.id}`]);
    // Either file still downloads after the other is deleted; the blob goes with the last.
    assert.equal((await fetch(`${server.url}/files/${a.id}`, { method: "DELETE" })).status, 204);
    const stillThere = await fetch(`${server.url}/files/${b.id}`);
    assert.deepEqual(Buffer.from(await stillThere.arrayBuffer()), body);
    assert.ok((await storedObjects(server.data)).includes(`put/${a.id}`));
    assert.equal((await fetch(`${server.url}/files/${b.id}`, { method: "DELETE" })).status, 204);
    assert.ok(!(await storedObjects(server.data)).includes(`put/${a.id}`));
  });

  it("refuses bad names with E_FILE_NAME and stores nothing", async () => {
    const before = await storedObjects(server.data);
    const paths = [
      "..%2F..%2Fetc%2Fpasswd",
      "..%5C..%5Cwindows",
      "a%2Fb",
      "nul%00byte",
      "line%0Abreak",
      "del%7F",
      "c1%C2%85",
      "..",
      ".",
      "%2E%2E",
      encodeURIComponent("名".repeat(85) + "x"), // 256 bytes
    ];
    for (const name of paths) {
      const res = await rawRequest(server.url, {
        method: "PUT",
        path: `/files/${name}`,
        headers: { "content-length": 5 },
        body: "hello",
      });
      assert.equal(res.status, 400, `${name}: ${res.body.toString()}`);
      assert.equal(codeOf(res.json), "E_FILE_NAME", name);
    }
    // Raw traversal is not even a route; bad percent-encoding is not a name.
    const traversal = await rawRequest(server.url, {
      method: "PUT",
      path: "/files/../../etc/passwd",
      body: "x",
    });
    assert.equal(traversal.status, 404);
    const badUtf8 = await rawRequest(server.url, {
      method: "PUT",
      path: "/files/%E4%B8",
      body: "x",
    });
    assert.equal(badUtf8.status, 400);
    assert.equal(codeOf(badUtf8.json), "E_INVALID_REQUEST");
    assert.deepEqual(await storedObjects(server.data), before);
  });

  it("refuses a Content-Type that is not a media type with 415 E_CONTENT_TYPE", async () => {
    const res = await putFile(server.url, "x.bin", "x", {
      headers: { "content-type": "nonsense" },
    });
    assert.equal(res.status, 415);
    assert.equal(codeOf(res.json), "E_CONTENT_TYPE");
  });

  it("answers 413 E_TOO_LARGE to a Content-Length over the limit before reading the body", async () => {
    const before = await storedObjects(server.data);
    // Only a little is sent: the answer must not wait for the other 10 GB.
    const res = await rawRequest(server.url, {
      method: "PUT",
      path: "/files/big.bin",
      headers: { "content-length": 10 * 1024 ** 3 },
      body: randomBytes(1000),
      endBody: false,
    });
    assert.equal(res.status, 413);
    assert.equal(codeOf(res.json), "E_TOO_LARGE");
    assert.equal(res.headers.connection, "close");
    assert.deepEqual(await storedObjects(server.data), before);
  });

  it("cuts a chunked body off at the limit with 413 and leaves no partial object", async () => {
    const before = await storedObjects(server.data);
    const res = await rawRequest(server.url, {
      method: "PUT",
      path: "/files/chunked.bin",
      headers: { "transfer-encoding": "chunked" },
      body: randomBytes(10_000),
    });
    assert.equal(res.status, 413);
    assert.equal(codeOf(res.json), "E_TOO_LARGE");
    await eventually(async () => (await storedObjects(server.data)).length === before.length);
    assert.deepEqual(await storedObjects(server.data), before);
    // Exactly at the limit is fine.
    const fits = await rawRequest(server.url, {
      method: "PUT",
      path: "/files/fits.bin",
      headers: { "transfer-encoding": "chunked" },
      body: randomBytes(4096),
    });
    assert.equal(fits.status, 201, fits.body.toString());
  });

  it("leaves nothing behind when the client goes away mid-upload", async () => {
    const before = await storedObjects(server.data);
    const { hostname, port } = new URL(server.url);
    const req = httpRequest({
      host: hostname,
      port,
      method: "PUT",
      path: "/files/gone.bin",
      headers: { "content-length": 4000 },
    });
    req.on("error", () => undefined); // the cut is the point
    req.write(randomBytes(1000));
    // The upload has begun once its temp file is there; then the client goes.
    await eventually(async () => (await storedObjects(server.data)).length > before.length);
    req.destroy();
    await eventually(async () => (await storedObjects(server.data)).length === before.length);
    assert.deepEqual(await storedObjects(server.data), before);
  });
});

describe("PUT /files/:name quota", () => {
  let server: FilesTestServer;

  before(async () => {
    server = await startFilesServer({ files: { quotaBytes: 1000, sweepIntervalMs: 3_600_000 } });
  });
  after(async () => {
    await server.close();
  });

  it("answers 413 E_QUOTA once an owner's files would pass files.quotaBytes", async () => {
    assert.equal((await putFile(server.url, "a", randomBytes(600))).status, 201);
    const before = await storedObjects(server.data);
    const declared = await putFile(server.url, "b", randomBytes(600));
    assert.equal(declared.status, 413);
    assert.equal(codeOf(declared.json), "E_QUOTA");
    // A chunked body's size is known only at its end: the stored copy is removed again.
    const chunked = await rawRequest(server.url, {
      method: "PUT",
      path: "/files/c",
      headers: { "transfer-encoding": "chunked" },
      body: randomBytes(600),
    });
    assert.equal(chunked.status, 413);
    assert.equal(codeOf(chunked.json), "E_QUOTA");
    assert.deepEqual(await storedObjects(server.data), before);
    assert.equal((await putFile(server.url, "d", randomBytes(400))).status, 201);
  });
});

describe("PUT quota under parallel uploads", () => {
  const MiB = 1024 * 1024;
  const QUOTA = 10 * MiB;
  let server: FilesTestServer;
  let database: Database;
  let meta: SqlFileMetadata;
  /** What the owner "local" holds now: files plus reservations. */
  const used = (): Promise<number> => meta.usedBytes("local");

  async function deleteAll(files: FileBody[]): Promise<void> {
    for (const file of files) {
      assert.equal((await fetch(`${server.url}${file.url}`, { method: "DELETE" })).status, 204);
    }
  }

  before(async () => {
    server = await startFilesServer({ files: { quotaBytes: QUOTA, sweepIntervalMs: 3_600_000 } });
    database = await openDatabase({ driver: "sqlite", path: join(server.data, "gamedock.db") });
    meta = new SqlFileMetadata(database);
  });
  after(async () => {
    await database.close();
    await server.close();
  });

  it("stores exactly as many parallel PUTs as fit; the rest get 413 E_QUOTA", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => putFile(server.url, `p${i}.bin`, randomBytes(3 * MiB))),
    );
    const stored = results.filter((r) => r.status === 201).map((r) => r.json as FileBody);
    const refused = results.filter((r) => r.status !== 201);
    assert.equal(stored.length, 3, results.map((r) => r.status).join(" "));
    for (const r of refused) {
      assert.equal(r.status, 413);
      assert.equal(codeOf(r.json), "E_QUOTA");
    }
    assert.equal(await used(), 9 * MiB);
    assert.equal((await storedObjects(server.data)).length, 3);
    await deleteAll(stored);
    assert.equal(await used(), 0);
  });

  it("never lets parallel chunked PUTs pass the quota; refused ones store nothing", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        rawRequest(server.url, {
          method: "PUT",
          path: `/files/c${i}.bin`,
          headers: { "transfer-encoding": "chunked" },
          body: randomBytes(3 * MiB),
        }),
      ),
    );
    const stored = results.filter((r) => r.status === 201).map((r) => r.json as FileBody);
    for (const r of results.filter((r) => r.status !== 201)) {
      assert.equal(r.status, 413, r.body.toString());
      assert.equal(codeOf(r.json), "E_QUOTA");
    }
    assert.ok(stored.length >= 1 && stored.length <= 3, `${stored.length} stored`);
    // Nothing held ahead is left behind: the usage is the stored files, exactly.
    await eventually(async () => (await used()) === stored.length * 3 * MiB, "holds given back");
    assert.equal((await storedObjects(server.data)).length, stored.length);
    const rest = await putFile(
      server.url,
      "rest.bin",
      randomBytes(QUOTA - stored.length * 3 * MiB),
    );
    assert.equal(rest.status, 201, JSON.stringify(rest.json));
    await deleteAll([...stored, rest.json as FileBody]);
  });

  it("gives the hold of a PUT cut off mid-body back", async () => {
    const { hostname, port } = new URL(server.url);
    const req = httpRequest({
      host: hostname,
      port,
      method: "PUT",
      path: "/files/cut.bin",
      headers: { "content-length": 8 * MiB },
    });
    req.on("error", () => undefined); // the cut is the point
    req.write(randomBytes(MiB));
    // The declared length is held before a byte is stored.
    await eventually(async () => (await used()) === 8 * MiB, "the declared length is held");
    const second = await putFile(server.url, "second.bin", randomBytes(3 * MiB));
    assert.equal(second.status, 413);
    assert.equal(codeOf(second.json), "E_QUOTA");
    req.destroy();
    await eventually(async () => (await used()) === 0, "the cut upload's hold is given back");
    const whole = await putFile(server.url, "whole.bin", randomBytes(QUOTA));
    assert.equal(whole.status, 201);
    await deleteAll([whole.json as FileBody]);
  });
});

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as (options?: { type: "minor" | "major" }) => void;

/**
 * Peak RSS growth while `work` runs, sampled every 10 ms right after a
 * garbage collection (a minor one, and a major one every fifth time). V8
 * otherwise leaves tens of MB of socket and file buffers that were already let
 * go waiting for collection — a flat amount, whatever the body's size — which
 * would be measured as if the body were held. What stays is what the code
 * holds plus what the allocator keeps.
 */
async function rssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  collect();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  let ticks = 0;
  const timer = setInterval(() => {
    collect({ type: ++ticks % 5 === 0 ? "major" : "minor" });
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const result = await work();
    return { result, growth: Math.max(peak, process.memoryUsage.rss()) - baseline };
  } finally {
    clearInterval(timer);
  }
}

describe("a 50 MB round trip", () => {
  let server: FilesTestServer;
  let dir = "";

  before(async () => {
    server = await startFilesServer({ files: { sweepIntervalMs: 3_600_000 } });
    dir = await tempDir("gamedock-big-");
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps digests right and RSS far below the body size", async () => {
    const size = 50 * 1024 * 1024;
    const source = join(dir, "big.bin");
    // Made by another process, so this one's memory does not start out inflated by it.
    await run("dd", ["if=/dev/urandom", `of=${source}`, "bs=1M", "count=50", "status=none"]);
    const { stdout } = await run("sha256sum", [source]);
    const expected = stdout.split(" ")[0];
    const { hostname, port } = new URL(server.url);
    const { result: put, growth: putGrowth } = await rssGrowth(
      () =>
        new Promise<FileBody>((resolve, reject) => {
          const req = httpRequest({
            host: hostname,
            port,
            method: "PUT",
            path: "/files/big.bin",
            headers: { "content-length": size },
          });
          req.on("response", (res) => {
            let text = "";
            res.setEncoding("utf8").on("data", (d: string) => (text += d));
            res.on("end", () => {
              resolve(JSON.parse(text) as FileBody);
            });
          });
          req.on("error", reject);
          createReadStream(source).pipe(req);
        }),
    );
    assert.equal(put.size, size);
    assert.equal(put.sha256, expected);

    const { result: got, growth: getGrowth } = await rssGrowth(async () => {
      const hash = createHash("sha256");
      let bytes = 0;
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest({ host: hostname, port, path: put.url });
        req.on("response", (res) => {
          res.on("data", (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
          });
          res.on("end", resolve);
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end();
      });
      return { bytes, sha256: hash.digest("hex") };
    });
    assert.equal(got.bytes, size);
    assert.equal(got.sha256, expected);
    assert.equal((await stat(join(server.data, "blobs", "put", put.id))).size, size);

    // Server and client share this process: both together must stay far below the body.
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    assert.ok(putGrowth < size * 0.6, `RSS grew by ${mib(putGrowth)} during a 50 MiB PUT`);
    assert.ok(getGrowth < size * 0.6, `RSS grew by ${mib(getGrowth)} during a 50 MiB GET`);
  });
});

describe("PUT and GET against an s3 target (s3rver)", () => {
  let s3: S3rverHandle;
  let server: FilesTestServer;

  before(async () => {
    s3 = await startS3rver();
    server = await startFilesServer({
      targets: { s3: s3TargetOf(s3) },
      files: { target: "s3", sweepIntervalMs: 3_600_000 },
    });
  });
  after(async () => {
    await server.close();
    await s3.close();
  });

  it("stores, serves ranges of and deletes a multipart-sized file", async () => {
    const body = randomBytes(6 * 1024 * 1024 + 123); // two parts of 5 MiB
    const { status, json } = await putFile(server.url, "s3.bin", body);
    assert.equal(status, 201, JSON.stringify(json));
    const file = json as FileBody;
    assert.equal(file.sha256, sha256(body));
    const whole = await fetch(`${server.url}${file.url}`);
    assert.equal(whole.headers.get("content-length"), String(body.length));
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), body);
    const part = await fetch(`${server.url}${file.url}`, {
      headers: { range: "bytes=5242870-5242889" },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(5242870, 5242890));
    const uploads = s3.requests.filter((r) => r.method === "PUT").map((r) => r.url);
    assert.ok(uploads.some((url) => url.includes(`put/${file.id}`)));
    assert.equal((await fetch(`${server.url}${file.url}`, { method: "DELETE" })).status, 204);
    const deletes = s3.requests.filter((r) => r.method === "DELETE").map((r) => r.url);
    assert.ok(deletes.some((url) => url.includes(`put/${file.id}`)));
    assert.equal((await fetch(`${server.url}${file.url}`)).status, 404);
  });
});
