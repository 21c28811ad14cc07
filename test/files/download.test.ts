/**
 * GET and HEAD of /files: headers, single ranges, validators, digest lookups,
 * delete, channel children of a stored APK, and the dispatch of tus requests
 * that share the /files URLs — over real HTTP.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { after, before, describe, it } from "node:test";
import { ManualClock } from "../../src/core/index.js";
import type { TusCaller, TusMount } from "../../src/files/index.js";
import { fixture, removeDir, runCli, tempDir } from "../helpers/cli.js";
import {
  putFile,
  rawRequest,
  startFilesApp,
  startFilesServer,
  type ErrorBody,
  type FileBody,
  type FilesTestServer,
} from "../helpers/files-server.js";

const run = promisify(execFile);
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");
const md5 = (bytes: Buffer): string => createHash("md5").update(bytes).digest("hex");

async function get(
  url: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(url, { method, headers });
  return {
    status: response.status,
    headers: response.headers,
    body: Buffer.from(await response.arrayBuffer()),
  };
}

const codeOf = (body: Buffer): string => (JSON.parse(body.toString()) as ErrorBody).error.code;

describe("GET and HEAD /files/:id", () => {
  let server: FilesTestServer;
  // The service measures expiry and creation times by this clock; tests move it.
  const clock = new ManualClock();
  const body = randomBytes(1000);
  const name = "战报 report (1).txt";
  let file: FileBody;
  let url = "";

  before(async () => {
    server = await startFilesServer({ files: { sweepIntervalMs: 3_600_000 } }, { clock });
    const put = await putFile(server.url, name, body, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
    file = put.json as FileBody;
    url = `${server.url}${file.url}`;
  });
  after(async () => {
    await server.close();
  });

  it("streams the file with its headers", async () => {
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, body);
    assert.equal(res.headers.get("content-length"), "1000");
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(res.headers.get("etag"), `"${sha256(body)}"`);
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(
      res.headers.get("last-modified"),
      new Date(Math.floor(Date.parse(file.createdAt) / 1000) * 1000).toUTCString(),
    );
    assert.equal(
      res.headers.get("content-disposition"),
      `attachment; filename="%E6%88%98%E6%8A%A5 report (1).txt"; filename*=UTF-8''%E6%88%98%E6%8A%A5%20report%20%281%29.txt`,
    );
  });

  it("answers HEAD with the same headers and no body", async () => {
    const full = await get(url);
    const head = await get(url, {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const header of ["content-length", "content-type", "etag", "content-disposition"]) {
      assert.equal(head.headers.get(header), full.headers.get(header), header);
    }
  });

  it("serves single ranges with 206 and Content-Range", async () => {
    const cases: [string, number, number][] = [
      ["bytes=0-0", 0, 0],
      ["bytes=10-19", 10, 19],
      ["bytes=990-", 990, 999],
      ["bytes=-25", 975, 999],
      ["bytes=-5000", 0, 999],
      ["bytes=995-5000", 995, 999],
      ["BYTES = 1 - 2", 1, 2],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(url, { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/1000`, range);
      assert.equal(res.headers.get("content-length"), String(end - start + 1), range);
      assert.deepEqual(res.body, body.subarray(start, end + 1), range);
    }
    const head = await get(url, { range: "bytes=100-199" }, "HEAD");
    assert.equal(head.status, 206);
    assert.equal(head.headers.get("content-length"), "100");
  });

  it("answers 416 with Content-Range bytes */size to an unsatisfiable range", async () => {
    for (const range of ["bytes=1000-", "bytes=5000-6000", "bytes=-0"]) {
      const res = await get(url, { range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get("content-range"), "bytes */1000", range);
      assert.equal(codeOf(res.body), "E_RANGE", range);
    }
  });

  it("ignores malformed and multiple ranges and sends the whole file", async () => {
    for (const range of [
      "bytes=5-3",
      "bytes=abc",
      "items=0-1",
      "bytes=0-1,3-4",
      "bytes=-",
      "0-1",
    ]) {
      const res = await get(url, { range });
      assert.equal(res.status, 200, range);
      assert.deepEqual(res.body, body, range);
    }
  });

  it("answers 304 to a matching If-None-Match", async () => {
    const etag = `"${sha256(body)}"`;
    for (const value of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await get(url, { "if-none-match": value });
      assert.equal(res.status, 304, value);
      assert.equal(res.headers.get("etag"), etag);
      assert.equal(res.body.length, 0);
    }
    assert.equal((await get(url, { "if-none-match": '"other"' })).status, 200);
  });

  it("applies a Range only while If-Range still matches", async () => {
    const etag = `"${sha256(body)}"`;
    const lastModified = (await get(url, {}, "HEAD")).headers.get("last-modified") ?? "";
    assert.equal((await get(url, { range: "bytes=0-9", "if-range": etag })).status, 206);
    assert.equal((await get(url, { range: "bytes=0-9", "if-range": lastModified })).status, 206);
    const stale = await get(url, { range: "bytes=0-9", "if-range": '"stale"' });
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, body);
    const weak = await get(url, { range: "bytes=0-9", "if-range": `W/${etag}` });
    assert.equal(weak.status, 200); // If-Range needs a strong match
    const old = await get(url, {
      range: "bytes=0-9",
      "if-range": new Date(Date.parse(lastModified) - 60_000).toUTCString(),
    });
    assert.equal(old.status, 200);
  });

  it("answers 404 E_NOT_FOUND to unknown, malformed and expired ids", async () => {
    for (const id of ["nosuchfile", "bad.id", "x".repeat(65)]) {
      const res = await get(`${server.url}/files/${id}`);
      assert.equal(res.status, 404, id);
      assert.equal(codeOf(res.body), "E_NOT_FOUND", id);
    }
    const short = (await putFile(server.url, "short.txt", randomBytes(10), { query: "?ttl=1" }))
      .json as FileBody;
    assert.equal((await get(`${server.url}${short.url}`)).status, 200);
    clock.advance(1000);
    const expired = await get(`${server.url}${short.url}`);
    assert.equal(expired.status, 404);
    assert.equal(codeOf(expired.body), "E_NOT_FOUND");
  });

  it("is saved by curl -OJ under distinct names when the names differ only in Chinese", async () => {
    const saveDir = await tempDir("gamedock-curl-oj-");
    try {
      const contents = new Map([
        ["游戏-华为.apk", randomBytes(100)],
        ["游戏-小米.apk", randomBytes(100)],
      ]);
      for (const [fileName, content] of contents) {
        const stored = (await putFile(server.url, fileName, content)).json as FileBody;
        await run("curl", ["-sfOJ", `${server.url}${stored.url}`], { cwd: saveDir });
      }
      const saved = (await readdir(saveDir)).sort();
      assert.equal(saved.length, 2, saved.join(" "));
      for (const savedName of saved) {
        const original = decodeURIComponent(savedName);
        assert.ok(contents.has(original), `${savedName} reads as one of the names`);
        assert.deepEqual(await readFile(join(saveDir, savedName)), contents.get(original));
      }
    } finally {
      await removeDir(saveDir);
    }
  });

  it("answers refusals of downloads and of tus with the request id of X-Request-Id", async () => {
    const refusals = [
      await fetch(url, { headers: { range: "bytes=5000-" } }),
      await fetch(`${server.url}/files/`, { method: "POST", headers: { "upload-length": "1" } }),
      await fetch(`${server.url}/files/`, {
        method: "POST",
        headers: { "tus-resumable": "1.0.0", "upload-length": "1", "upload-defer-length": "1" },
      }),
    ];
    const answers = await Promise.all(
      refusals.map(async (res) => ({
        status: res.status,
        header: res.headers.get("x-request-id"),
        type: res.headers.get("content-type"),
        error: ((await res.json()) as { error: { code: string; requestId?: string } }).error,
      })),
    );
    assert.deepEqual(
      answers.map((a) => [a.status, a.error.code]),
      [
        [416, "E_RANGE"],
        [412, "E_TUS_VERSION"],
        [400, "E_INVALID_REQUEST"],
      ],
    );
    for (const answer of answers) {
      assert.match(answer.type ?? "", /^application\/json/);
      assert.ok(answer.header, "X-Request-Id");
      assert.equal(answer.error.requestId, answer.header);
    }
  });

  it("finds the newest file by sha256 or md5", async () => {
    const content = randomBytes(300);
    await putFile(server.url, "older.bin", content);
    clock.advance(5);
    await putFile(server.url, "newer.bin", content);
    for (const [kind, hex] of [
      ["sha256", sha256(content)],
      ["md5", md5(content)],
      ["sha256", sha256(content).toUpperCase()],
    ] as const) {
      const res = await get(`${server.url}/files/by-${kind}/${hex}`);
      assert.equal(res.status, 200, `${kind} ${hex}`);
      assert.deepEqual(res.body, content);
      assert.match(res.headers.get("content-disposition") ?? "", /filename="newer\.bin"/);
      const range = await get(`${server.url}/files/by-${kind}/${hex}`, { range: "bytes=0-9" });
      assert.deepEqual(range.body, content.subarray(0, 10));
      const head = await get(`${server.url}/files/by-${kind}/${hex}`, {}, "HEAD");
      assert.equal(head.headers.get("content-length"), "300");
    }
    for (const bad of [
      "by-sha256/xyz",
      `by-sha256/${"a".repeat(63)}`,
      `by-md5/${"g".repeat(32)}`,
    ]) {
      const res = await get(`${server.url}/files/${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(codeOf(res.body), "E_INVALID_REQUEST", bad);
    }
    const none = await get(`${server.url}/files/by-md5/${"0".repeat(32)}`);
    assert.equal(none.status, 404);
    assert.equal(codeOf(none.body), "E_NOT_FOUND");
  });

  it("deletes a file with DELETE (204), after which it is gone", async () => {
    const doomed = (await putFile(server.url, "doomed", randomBytes(50))).json as FileBody;
    assert.equal((await get(`${server.url}${doomed.url}`, {}, "DELETE")).status, 204);
    assert.equal((await get(`${server.url}${doomed.url}`)).status, 404);
    const again = await get(`${server.url}${doomed.url}`, {}, "DELETE");
    assert.equal(again.status, 404);
    assert.equal(codeOf(again.body), "E_NOT_FOUND");
  });

  it("never reads ahead of a client that stops reading", async () => {
    setFlagsFromString("--expose-gc");
    const collect = runInNewContext("gc") as () => void;
    const big = (await putFile(server.url, "big.bin", randomBytes(32 * 1024 * 1024)))
      .json as FileBody;
    const { hostname, port } = new URL(server.url);
    collect();
    const before = process.memoryUsage().arrayBuffers;
    const held = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: hostname, port, path: big.url }, (res) => {
        res.pause();
        setTimeout(() => {
          collect();
          const now = process.memoryUsage().arrayBuffers - before;
          res.destroy();
          resolve(now);
        }, 500);
      });
      req.on("error", reject);
      req.end();
    });
    assert.ok(
      held < 8 * 1024 * 1024,
      `${(held / 2 ** 20).toFixed(1)} MiB held for a paused client`,
    );
  });
});

describe("channel children of a stored APK", () => {
  let server: FilesTestServer;
  let dir = "";
  let mother: FileBody;

  before(async () => {
    server = await startFilesServer({ files: { sweepIntervalMs: 3_600_000 } });
    dir = await tempDir("gamedock-channel-dl-");
    const apk = await readFile(fixture("v1v2v3.apk"));
    mother = (
      await putFile(server.url, "游戏.apk", apk, {
        headers: { "content-type": "application/vnd.android.package-archive" },
      })
    ).json as FileBody;
  });
  after(async () => {
    await server.close();
    await removeDir(dir);
  });

  it("streams the bytes `gamedock channel put` writes, with Range", async () => {
    const out = join(dir, "huawei.apk");
    const cli = await runCli([
      "channel",
      "put",
      fixture("v1v2v3.apk"),
      "huawei",
      "-e",
      "region=cn",
      "-o",
      out,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const expected = await readFile(out);
    const url = `${server.url}${mother.url}/channel/huawei.apk?region=cn`;
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.android.package-archive");
    assert.equal(res.headers.get("content-length"), String(expected.length));
    assert.match(
      res.headers.get("content-disposition") ?? "",
      /filename\*=UTF-8''%E6%B8%B8%E6%88%8F-huawei\.apk$/,
    );
    assert.deepEqual(res.body, expected);
    const tail = await get(url, { range: `bytes=-100` });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, expected.subarray(expected.length - 100));
    const etag = res.headers.get("etag") ?? "";
    assert.equal((await get(url, { "if-none-match": etag })).status, 304);
    const other = await get(`${server.url}${mother.url}/channel/xiaomi.apk?region=cn`, {}, "HEAD");
    assert.notEqual(other.headers.get("etag"), etag);
    const dotted = await get(`${server.url}${mother.url}/channel/hw.cn.apk`, {}, "HEAD");
    assert.equal(dotted.status, 200);
    assert.match(dotted.headers.get("content-disposition") ?? "", /-hw\.cn\.apk$/);
  });

  it("refuses bad channels and files that are not APKs", async () => {
    const bad = await get(`${server.url}${mother.url}/channel/${encodeURIComponent("a:b")}.apk`);
    assert.equal(bad.status, 400);
    assert.equal(codeOf(bad.body), "E_CHANNEL_INVALID");
    const text = (await putFile(server.url, "not.apk", randomBytes(2000))).json as FileBody;
    const notApk = await get(`${server.url}${text.url}/channel/huawei.apk`);
    assert.equal(notApk.status, 400);
    assert.equal(codeOf(notApk.body), "E_NOT_ZIP");
    assert.equal((await get(`${server.url}/files/nosuch/channel/huawei.apk`)).status, 404);
  });
});

describe("tus requests on the /files URLs", () => {
  it("go to the mounted tus handler, with the owner; plain requests do not", async () => {
    const seen: { method: string; url: string; owner: string }[] = [];
    const tus: TusMount = {
      handle(req: IncomingMessage, res: ServerResponse, { owner }: TusCaller) {
        seen.push({ method: req.method ?? "", url: req.url ?? "", owner });
        res.writeHead(299, { "tus-resumable": "1.0.0" }).end();
        return Promise.resolve();
      },
    };
    const app = await startFilesApp({ tus });
    try {
      const tusHeaders = { "tus-resumable": "1.0.0" };
      const requests: [string, string, Record<string, string>][] = [
        ["POST", "/files", tusHeaders],
        ["POST", "/files/", tusHeaders],
        [
          "PATCH",
          "/files/abc",
          { ...tusHeaders, "content-type": "application/offset+octet-stream" },
        ],
        ["HEAD", "/files/abc", tusHeaders],
        ["DELETE", "/files/abc", tusHeaders],
        ["OPTIONS", "/files", {}],
        ["OPTIONS", "/files/abc", {}],
      ];
      for (const [method, path, headers] of requests) {
        const res = await rawRequest(app.url, { method, path, headers });
        assert.equal(res.status, 299, `${method} ${path}`);
      }
      assert.deepEqual(
        seen.map((s) => `${s.method} ${s.url} ${s.owner}`),
        requests.map(([method, path]) => `${method} ${path} local`),
      );
      // Without Tus-Resumable, HEAD and DELETE are the plain file routes.
      assert.equal((await rawRequest(app.url, { method: "HEAD", path: "/files/abc" })).status, 404);
      assert.equal(
        (await rawRequest(app.url, { method: "DELETE", path: "/files/abc" })).status,
        404,
      );
      assert.equal(seen.length, requests.length);
    } finally {
      await app.close();
    }
  });

  it("answer errors of the tus handler in gamedock's error shape", async () => {
    const app = await startFilesApp({
      tus: { handle: () => Promise.reject(new Error("boom")) },
    });
    try {
      const res = await rawRequest(app.url, { method: "POST", path: "/files", headers: {} });
      assert.equal(res.status, 500);
      assert.equal((res.json as ErrorBody).error.code, "E_INTERNAL");
    } finally {
      await app.close();
    }
  });
});
