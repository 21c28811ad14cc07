/**
 * GET /api/v1/files/:id/apk over real HTTP: the JSON `gamedock apk info
 * --json` prints for the same bytes (the real CLI runs beside it), on an fs
 * and an s3 target; a stored file that is not an APK answers the CLI's code
 * for it; unknown ids 404. The APK is read by ranges where it is stored: the
 * data directory gains no file, and a large APK on s3 is read in a few small
 * ranged GETs, not downloaded.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildSignedApk } from "../../scripts/signed-apk.js";
import { serializeEmptyStoredEntry, serializeEocd } from "../../src/apk/zip-records.js";
import { errorCode, fixture, removeDir, runCli, tempDir } from "../helpers/cli.js";
import { putFile, type ErrorBody, type FileBody } from "../helpers/files-server.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { skipUnlessTool } from "../helpers/tools.js";

const FIXTURES = ["v1v2v3.apk", "chinese.apk", "v2only.apk", "v3rotated.apk", "unsigned.apk"];

/** What `gamedock apk info --json <path>` prints, parsed. */
async function cliInfo(path: string): Promise<unknown> {
  const result = await runCli(["apk", "info", path, "--json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

async function upload(url: string, name: string, body: Buffer): Promise<FileBody> {
  const { status, json } = await putFile(url, name, body);
  assert.equal(status, 201, JSON.stringify(json));
  return json as FileBody;
}

async function apkInfo(url: string, id: string): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}/api/v1/files/${encodeURIComponent(id)}/apk`);
  return { status: response.status, json: await response.json() };
}

/** Every file under `dir`, relative, sorted; the log, which grows, left out. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.startsWith("gamedock.log"))
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length))
    .sort();
}

describe("GET /api/v1/files/:id/apk (gamedock serve, fs target)", () => {
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = await tempDir("gamedock-apk-info-");
    server = await startTestServer({ files: { sweepIntervalMs: 3_600_000 } });
  });
  after(async () => {
    await server.close();
    await rm(server.data, { recursive: true, force: true });
    await removeDir(dir);
  });

  it("answers what `gamedock apk info --json` prints, and writes no file", async () => {
    const stored: [string, FileBody][] = [];
    for (const name of FIXTURES) {
      stored.push([name, await upload(server.url, name, await readFile(fixture(name)))]);
    }
    const before = await filesUnder(server.data);
    for (const [name, file] of stored) {
      const { status, json } = await apkInfo(server.url, file.id);
      assert.equal(status, 200, `${name}: ${JSON.stringify(json)}`);
      assert.deepEqual(json, await cliInfo(fixture(name)), name);
    }
    assert.deepEqual(await filesUnder(server.data), before);
  });

  it("reads the channel of a channel APK", async () => {
    const mother = await upload(server.url, "游戏.apk", await readFile(fixture("v1v2v3.apk")));
    const child = await fetch(`${server.url}/files/${mother.id}/channel/huawei.apk?region=cn`);
    assert.equal(child.status, 200);
    const path = join(dir, "游戏-huawei.apk");
    await writeFile(path, Buffer.from(await child.arrayBuffer()));
    const stored = await upload(server.url, "游戏-huawei.apk", await readFile(path));
    const { status, json } = await apkInfo(server.url, stored.id);
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(json, await cliInfo(path));
    assert.deepEqual((json as { channel: unknown }).channel, {
      channel: "huawei",
      extras: { region: "cn" },
      format: "walle",
    });
  });

  it("a stored file that is not an APK answers 400 with the CLI's code for it", async () => {
    const apk = await readFile(fixture("v1v2v3.apk"));
    const { local, central } = serializeEmptyStoredEntry("readme.txt", 0);
    const eocd = serializeEocd({
      entryCount: 1,
      cdSize: central.length,
      cdOffset: local.length,
      comment: Buffer.alloc(0),
    });
    const plainZip = Buffer.concat([local, central, eocd]);
    const cases: [string, Buffer, string][] = [
      ["notes.txt", Buffer.from("这不是 APK, just text\n"), "E_NOT_ZIP"],
      ["noise.bin", randomBytes(100_000), "E_NOT_ZIP"],
      ["empty.apk", Buffer.alloc(0), "E_NOT_ZIP"],
      ["plain.zip", plainZip, "E_NO_MANIFEST"],
      ["cut.apk", apk.subarray(0, 5000), "E_TRUNCATED"],
    ];
    for (const [name, body, expected] of cases) {
      const path = join(dir, name);
      await writeFile(path, body);
      const code = errorCode(await runCli(["apk", "info", path]));
      assert.equal(code, expected, name);
      const file = await upload(server.url, name, body);
      const { status, json } = await apkInfo(server.url, file.id);
      assert.equal(status, 400, `${name}: ${JSON.stringify(json)}`);
      const { error } = json as ErrorBody;
      assert.equal(error.code, code, name);
      assert.ok(error.message.includes(file.id), error.message);
      assert.ok(!JSON.stringify(json).includes(server.data), "no server path in the answer");
    }
  });

  it("unknown, malformed and deleted ids answer 404 E_NOT_FOUND", async () => {
    const file = await upload(server.url, "gone.apk", await readFile(fixture("v2only.apk")));
    assert.equal((await fetch(`${server.url}${file.url}`, { method: "DELETE" })).status, 204);
    for (const id of ["mwq2ocdvkSZ87NPjxm7xAzHL", "no.such!id", "x".repeat(65), file.id]) {
      const { status, json } = await apkInfo(server.url, id);
      assert.equal(status, 404, `${id}: ${JSON.stringify(json)}`);
      assert.equal((json as ErrorBody).error.code, "E_NOT_FOUND");
    }
  });
});

describe("GET /api/v1/files/:id/apk (gamedock serve, s3 target on s3rver)", () => {
  let s3: S3rverHandle;
  let server: TestServer;
  let dir: string;

  before(async () => {
    dir = await tempDir("gamedock-apk-info-s3-");
    s3 = await startS3rver();
    server = await startTestServer({
      targets: { s3: s3TargetOf(s3) },
      files: { target: "s3", sweepIntervalMs: 3_600_000 },
    });
  });
  after(async () => {
    await server.close();
    await rm(server.data, { recursive: true, force: true });
    await s3.close();
    await removeDir(dir);
  });

  /** The GETs of the object since `from` (index into s3.requests), with their Range headers. */
  const getsOf = (from: number, key: string) =>
    s3.requests
      .slice(from)
      .filter((r) => r.method === "GET" && r.url.split("?")[0]!.endsWith(key))
      .map((r) => r.headers.range);

  const bytesOf = (ranges: (string | undefined)[]): number =>
    ranges.reduce((sum, range) => {
      const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? "");
      assert.ok(match, `a ranged GET, not ${range}`);
      return sum + Number(match[2]) - Number(match[1]) + 1;
    }, 0);

  it("answers what `gamedock apk info --json` prints, reading by ranges", async () => {
    for (const name of ["v1v2v3.apk", "chinese.apk"]) {
      const file = await upload(server.url, name, await readFile(fixture(name)));
      const from = s3.requests.length;
      const { status, json } = await apkInfo(server.url, file.id);
      assert.equal(status, 200, JSON.stringify(json));
      assert.deepEqual(json, await cliInfo(fixture(name)));
      const gets = getsOf(from, `put/${file.id}`);
      assert.ok(gets.length > 0);
      bytesOf(gets); // every one ranged
    }
    const text = await upload(server.url, "notes.txt", Buffer.from("not an APK"));
    const { status, json } = await apkInfo(server.url, text.id);
    assert.equal(status, 400);
    assert.equal((json as ErrorBody).error.code, "E_NOT_ZIP");
  });

  it(
    "reads a large APK in a few small ranges, whatever its size",
    { skip: skipUnlessTool("apksigner", "aapt", "zipalign") },
    async () => {
      const MB = 40;
      const path = await buildSignedApk(join(dir, `big-${MB}m.apk`), MB);
      const file = await upload(server.url, "big.apk", await readFile(path));
      const from = s3.requests.length;
      const { status, json } = await apkInfo(server.url, file.id);
      assert.equal(status, 200, JSON.stringify(json));
      assert.deepEqual(json, await cliInfo(path));
      const gets = getsOf(from, `put/${file.id}`);
      const read = bytesOf(gets);
      assert.ok(gets.length <= 4, `${gets.length} GETs`);
      assert.ok(read < 512 * 1024, `${read} bytes read of a ${file.size}-byte APK`);
    },
  );
});
