/**
 * blob's sendBlob, the one HTTP sender for stored objects (/files downloads,
 * channel children, pack-job downloads), behind a bare node:http server:
 * Range, If-Range, ETag / If-None-Match, HEAD, 416 and failures in the JSON
 * error shape — for a streamed object and for a local file (the reused-buffer
 * path) alike. And the Content-Disposition fallback curl -OJ saves under.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import {
  asciiFallback,
  contentDisposition,
  sendBlob,
  type BlobRepresentation,
} from "../../src/blob/index.js";
import { GamedockError } from "../../src/core/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";

interface ErrorJson {
  error: { code: string; message: string; requestId?: string; details?: Record<string, unknown> };
}

const bytes = randomBytes(10_000);
const ETAG = '"v1"';
const MODIFIED = new Date("2026-01-02T03:04:05Z");

function representation(over: Partial<BlobRepresentation> = {}): BlobRepresentation {
  return {
    etag: ETAG,
    size: bytes.length,
    lastModified: MODIFIED,
    contentType: "application/vnd.android.package-archive",
    name: "游戏-华为.apk",
    open: (range) =>
      Promise.resolve(Readable.from([range ? bytes.subarray(range.start, range.end + 1) : bytes])),
    ...over,
  };
}

describe("sendBlob", () => {
  let dir = "";
  let server: Server;
  let base = "";
  const failures: { err: unknown; internal: boolean }[] = [];
  /** What each path serves: /stream (open()), /local (a local file), /missing, /broken. */
  const routes = new Map<string, () => BlobRepresentation>();

  before(async () => {
    dir = await tempDir("gamedock-send-blob-");
    const local = join(dir, "object.bin");
    await writeFile(local, bytes);
    routes.set("/stream", () => representation());
    routes.set("/local", () => representation({ localPath: local }));
    routes.set("/empty", () =>
      representation({ size: 0, open: () => Promise.resolve(Readable.from([])) }),
    );
    routes.set("/missing", () =>
      representation({
        open: () => Promise.reject(new GamedockError("E_NOT_FOUND", "no object x", { key: "x" })),
      }),
    );
    routes.set("/broken", () =>
      representation({ open: () => Promise.reject(new Error("/srv/secret/path: EIO")) }),
    );
    server = createServer((req, res) => {
      const make = routes.get(req.url ?? "");
      if (!make) {
        res.writeHead(404).end();
        return;
      }
      void sendBlob(req, res, make(), {
        requestId: "req-1",
        onError: (err, internal) => failures.push({ err, internal }),
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await removeDir(dir);
  });

  async function get(path: string, headers: Record<string, string> = {}, method = "GET") {
    const response = await fetch(`${base}${path}`, { method, headers });
    return {
      status: response.status,
      headers: response.headers,
      body: Buffer.from(await response.arrayBuffer()),
    };
  }

  for (const path of ["/stream", "/local"]) {
    it(`${path}: the whole object with its validators and headers, HEAD without a body`, async () => {
      const whole = await get(path);
      assert.equal(whole.status, 200);
      assert.deepEqual(whole.body, bytes);
      assert.equal(whole.headers.get("content-length"), String(bytes.length));
      assert.equal(whole.headers.get("etag"), ETAG);
      assert.equal(whole.headers.get("last-modified"), MODIFIED.toUTCString());
      assert.equal(whole.headers.get("accept-ranges"), "bytes");
      assert.equal(whole.headers.get("x-content-type-options"), "nosniff");
      assert.equal(whole.headers.get("content-type"), "application/vnd.android.package-archive");
      assert.equal(whole.headers.get("content-disposition"), contentDisposition("游戏-华为.apk"));
      const head = await get(path, {}, "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.headers.get("content-length"), String(bytes.length));
      assert.equal(head.headers.get("etag"), ETAG);
    });

    it(`${path}: one byte range → 206, suffix and open-ended ranges included`, async () => {
      for (const [range, start, end] of [
        ["bytes=100-199", 100, 199],
        ["bytes=9990-", 9990, 9999],
        ["bytes=-10", 9990, 9999],
        ["bytes=9000-20000", 9000, 9999],
      ] as const) {
        const res = await get(path, { range });
        assert.equal(res.status, 206, range);
        assert.deepEqual(res.body, bytes.subarray(start, end + 1), range);
        assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/${bytes.length}`);
        assert.equal(res.headers.get("content-length"), String(end - start + 1));
      }
      // What the sender does not serve is ignored: the whole object.
      for (const range of ["bytes=0-1,5-9", "items=0-1", "bytes=5-3"]) {
        const res = await get(path, { range });
        assert.equal(res.status, 200, range);
        assert.equal(res.body.length, bytes.length);
      }
    });

    it(`${path}: a range past the end → 416 E_RANGE in the JSON shape`, async () => {
      for (const range of [`bytes=${bytes.length}-`, "bytes=-0"]) {
        const res = await get(path, { range });
        assert.equal(res.status, 416, range);
        assert.equal(res.headers.get("content-range"), `bytes */${bytes.length}`);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
        const { error } = JSON.parse(res.body.toString()) as ErrorJson;
        assert.equal(error.code, "E_RANGE");
        assert.equal(error.requestId, "req-1");
      }
    });

    it(`${path}: If-None-Match → 304; If-Range applies the range only to the same version`, async () => {
      for (const tag of [ETAG, `W/${ETAG}`, "*", `"other", ${ETAG}`]) {
        const res = await get(path, { "if-none-match": tag });
        assert.equal(res.status, 304, tag);
        assert.equal(res.headers.get("etag"), ETAG);
        assert.equal(res.body.length, 0);
      }
      assert.equal((await get(path, { "if-none-match": '"other"' })).status, 200);
      const same = await get(path, { range: "bytes=0-9", "if-range": ETAG });
      assert.equal(same.status, 206);
      const byDate = await get(path, { range: "bytes=0-9", "if-range": MODIFIED.toUTCString() });
      assert.equal(byDate.status, 206);
      for (const stale of ['"v0"', `W/${ETAG}`, new Date(0).toUTCString()]) {
        const res = await get(path, { range: "bytes=0-9", "if-range": stale });
        assert.equal(res.status, 200, stale);
        assert.deepEqual(res.body, bytes);
      }
    });
  }

  it("sends an empty object, and answers any range of it 416", async () => {
    const empty = await get("/empty");
    assert.equal(empty.status, 200);
    assert.equal(empty.headers.get("content-length"), "0");
    assert.equal((await get("/empty", { range: "bytes=0-" })).status, 416);
  });

  it("answers an object it cannot open in the JSON shape, never a broken 200", async () => {
    failures.length = 0;
    const missing = await get("/missing");
    assert.equal(missing.status, 404);
    assert.equal((JSON.parse(missing.body.toString()) as ErrorJson).error.code, "E_NOT_FOUND");
    const broken = await get("/broken");
    assert.equal(broken.status, 500);
    const { error } = JSON.parse(broken.body.toString()) as ErrorJson;
    assert.equal(error.code, "E_INTERNAL");
    assert.equal(error.requestId, "req-1");
    assert.ok(!broken.body.toString().includes("/srv/secret"), "no server path in the answer");
    assert.deepEqual(
      failures.map((f) => f.internal),
      [false, true],
    );
  });
});

describe("Content-Disposition fallback", () => {
  it("keeps printable ASCII and percent-encodes the rest, so names stay apart", () => {
    assert.equal(asciiFallback("game-1.2.3 (final).apk"), "game-1.2.3 (final).apk");
    assert.equal(asciiFallback('100%"a\\b".txt'), "100%25%22a%5Cb%22.txt");
    const huawei = asciiFallback("游戏-华为.apk");
    const xiaomi = asciiFallback("游戏-小米.apk");
    assert.equal(huawei, "%E6%B8%B8%E6%88%8F-%E5%8D%8E%E4%B8%BA.apk");
    assert.notEqual(huawei, xiaomi);
    assert.equal(decodeURIComponent(xiaomi), "游戏-小米.apk");
    assert.equal(asciiFallback("\u0007"), "%07");
    assert.equal(asciiFallback("   "), "download");
    assert.equal(
      contentDisposition("渠道.apk"),
      `attachment; filename="%E6%B8%A0%E9%81%93.apk"; filename*=UTF-8''%E6%B8%A0%E9%81%93.apk`,
    );
  });

  it("keeps long names short enough to save, and still apart", () => {
    const a = asciiFallback(`${"渠".repeat(80)}-a.apk`);
    const b = asciiFallback(`${"渠".repeat(80)}-b.apk`);
    for (const fallback of [a, b]) {
      assert.ok(fallback.length <= 200, String(fallback.length));
      assert.match(fallback, /^(%E6%B8%A0)+~[0-9a-f]{12}\.apk$/);
    }
    assert.notEqual(a, b);
  });
});
