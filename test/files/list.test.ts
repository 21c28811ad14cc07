/**
 * GET /api/v1/files over real HTTP: the operators' list of stored files,
 * newest first, in cursor pages that neither repeat nor skip a file while
 * uploads go on, searched by name (%, _ and ! literal, Chinese) or digest
 * prefix; bad parameters answer 400 E_INVALID_REQUEST naming the parameter;
 * API tokens only — a user's realtime token, good for its own /files, is
 * refused. Then, on a clock the test moves: expired and deleted files are
 * not listed. (Every database dialect: test/files/metadata.test.ts.)
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { ManualClock } from "../../src/core/index.js";
import { registerFileApiRoutes, registerFileRoutes } from "../../src/files/index.js";
import { mintToken } from "../../src/realtime/index.js";
import { openFilesService } from "../../src/server/files.js";
import { createHttpServer } from "../../src/server/http.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { putFile, type ErrorBody, type FileBody } from "../helpers/files-server.js";
import { startTestServer, testConfig, type TestServer } from "../helpers/serve.js";

const TOKEN = "list-token-0123456789abcdef";
const USER_SECRET = "list-user-secret-0123456789abcdef0123";
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

interface Page {
  files: FileBody[];
  nextCursor: string | null;
}

async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(url, { headers });
  return { status: response.status, json: await response.json() };
}

const listPath = (query: Record<string, string> = {}): string => {
  const search = new URLSearchParams(query).toString();
  return `/api/v1/files${search ? `?${search}` : ""}`;
};

describe("GET /api/v1/files (gamedock serve, API tokens)", () => {
  let server: TestServer;
  /** Uploaded in this order, a few ms apart, so newest first is the reverse. */
  const uploaded: FileBody[] = [];
  const NAMES = [
    "a-first.bin",
    "促销50%_off 战报.mp4",
    "50X_Offer.apk",
    "hello!world.txt",
    "plain.txt",
    "deadbeef-notes.txt",
    "Z-last.bin",
  ];

  const list = async (query: Record<string, string> = {}, token = TOKEN) =>
    getJson(`${server.url}${listPath(query)}`, bearer(token));
  const page = async (query: Record<string, string> = {}): Promise<Page> => {
    const { status, json } = await list(query);
    assert.equal(status, 200, JSON.stringify(json));
    return json as Page;
  };
  const put = async (name: string, token = TOKEN): Promise<FileBody> => {
    const { status, json } = await putFile(server.url, name, randomBytes(64), {
      headers: bearer(token),
    });
    assert.equal(status, 201, JSON.stringify(json));
    return json as FileBody;
  };
  const remove = async (file: FileBody, token = TOKEN): Promise<void> => {
    const response = await fetch(`${server.url}${file.url}`, {
      method: "DELETE",
      headers: bearer(token),
    });
    assert.equal(response.status, 204);
  };
  const newestFirst = (): FileBody[] => [...uploaded].reverse();

  before(async () => {
    server = await startTestServer({
      server: { tokens: [TOKEN] },
      files: { sweepIntervalMs: 3_600_000 },
      realtime: { jwtSecret: USER_SECRET },
    });
    for (const name of NAMES) {
      uploaded.push(await put(name));
      await delay(3); // distinct createdAt: the order below is the upload order reversed
    }
  });
  after(async () => {
    await server.close();
    await rm(server.data, { recursive: true, force: true });
  });

  it("lists every live file newest first, each as the file service describes it", async () => {
    assert.deepEqual(await page(), { files: newestFirst(), nextCursor: null });
    // One page exactly as long as the list: no cursor to an empty page.
    assert.deepEqual(await page({ limit: String(NAMES.length) }), {
      files: newestFirst(),
      nextCursor: null,
    });
    assert.deepEqual((await page({ limit: "1" })).files, newestFirst().slice(0, 1));
  });

  it("pages with the cursor without a duplicate or a gap, while uploads go on", async () => {
    const seen: FileBody[] = [];
    const added: FileBody[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer: Page = await page({ limit: "3", ...(cursor ? { cursor } : {}) });
      seen.push(...answer.files);
      cursor = answer.nextCursor;
      pages++;
      // A new file between pages is newer than every page still to come.
      added.push(await put(`between-${pages}.bin`));
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.deepEqual(seen, newestFirst());
    // The new files head a fresh listing; deleted, they are gone from it.
    assert.deepEqual((await page({ limit: "3" })).files, added.reverse());
    for (const file of added) await remove(file);
    assert.deepEqual((await page()).files, newestFirst());
  });

  it("finds names by substring: any case, with %, _ and ! taken literally, Chinese", async () => {
    const named = (...names: string[]): FileBody[] =>
      newestFirst().filter((file) => names.includes(file.name));
    const cases: [string, FileBody[]][] = [
      ["off", named("50X_Offer.apk", "促销50%_off 战报.mp4")],
      ["OFFER", named("50X_Offer.apk")],
      ["50%_off", named("促销50%_off 战报.mp4")], // as a LIKE pattern it would match 50X_Offer too
      ["%", named("促销50%_off 战报.mp4")],
      ["_", named("50X_Offer.apk", "促销50%_off 战报.mp4")],
      ["!", named("hello!world.txt")],
      ["!%", []],
      ["战报", named("促销50%_off 战报.mp4")],
      ["促销50%_OFF 战", named("促销50%_off 战报.mp4")],
      ["-last", named("Z-last.bin")],
      ["no such name", []],
    ];
    for (const [q, files] of cases) {
      assert.deepEqual(await page({ q }), { files, nextCursor: null }, `q=${q}`);
    }
    // Searching pages too.
    const first = await page({ q: "t", limit: "2" });
    const rest = await page({ q: "t", limit: "10", cursor: first.nextCursor ?? "" });
    const withT = newestFirst().filter((file) => file.name.toLowerCase().includes("t"));
    assert.deepEqual([...first.files, ...rest.files], withT);
    assert.equal(rest.nextCursor, null);
  });

  it("finds files by a sha256 or md5 prefix of 8 to 64 hex digits, any case", async () => {
    const file = uploaded[3]!;
    for (const q of [
      file.sha256.slice(0, 8),
      file.sha256.slice(0, 33).toUpperCase(),
      file.sha256,
      file.md5.slice(0, 12).toUpperCase(),
      file.md5,
    ]) {
      assert.deepEqual((await page({ q })).files, [file], `q=${q}`);
    }
    // Seven digits are a name substring only; a prefix is where the digest starts.
    assert.deepEqual((await page({ q: file.sha256.slice(0, 7) })).files, []);
    assert.deepEqual((await page({ q: file.sha256.slice(1, 9) })).files, []);
    // A hex q is still a name substring too.
    const notes = uploaded.find((f) => f.name === "deadbeef-notes.txt")!;
    assert.ok((await page({ q: "DEADBEEF" })).files.some((f) => f.id === notes.id));
  });

  it("answers 400 E_INVALID_REQUEST naming a bad limit, cursor or q", async () => {
    const pageOne = await page({ limit: "2" });
    const cursor = (text: string) => Buffer.from(text).toString("base64url");
    const bad: [string, string][] = [
      ["limit=0", "limit"],
      ["limit=201", "limit"],
      ["limit=-1", "limit"],
      ["limit=1.5", "limit"],
      ["limit=ten", "limit"],
      ["limit=", "limit"],
      ["limit=2&limit=3", "limit"],
      ["cursor=nonsense", "cursor"],
      ["cursor=%2F%2F%2F", "cursor"],
      [`cursor=${cursor("12.bad id")}`, "cursor"],
      [`cursor=${cursor("nodot")}`, "cursor"],
      [`cursor=${pageOne.nextCursor}&cursor=${pageOne.nextCursor}`, "cursor"],
      ["q=a&q=b", "q"],
      [`q=${encodeURIComponent("长".repeat(86))}`, "q"], // 258 bytes: longer than any name
    ];
    for (const [query, field] of bad) {
      const { status, json } = await getJson(`${server.url}/api/v1/files?${query}`, bearer(TOKEN));
      assert.equal(status, 400, `${query}: ${JSON.stringify(json)}`);
      const { error } = json as ErrorBody;
      assert.equal(error.code, "E_INVALID_REQUEST", query);
      assert.equal(error.details?.field, field, query);
    }
    assert.equal((await list({ limit: "200" })).status, 200);
    assert.equal((await list({ limit: "1" })).status, 200);
    // An empty cursor or q is the first page, unfiltered.
    assert.deepEqual(await page({ cursor: "", q: "" }), await page());
  });

  it("takes API tokens only: a user's realtime token cannot list everyone's files", async () => {
    const jwt = await mintToken(new TextEncoder().encode(USER_SECRET), {
      uid: "u-1001",
      ttlSeconds: 600,
    });
    // The user's token is good for its own /files …
    const own = await put("user-upload.bin", jwt);
    try {
      // … but not for the operators' API, which lists everyone's files.
      for (const headers of [bearer(jwt), {}, bearer("wrong-token"), { authorization: TOKEN }]) {
        for (const path of [listPath(), `/api/v1/files/${uploaded[0]!.id}/apk`]) {
          const { status, json } = await getJson(`${server.url}${path}`, headers);
          assert.equal(status, 401, `${path} ${JSON.stringify(headers)}`);
          assert.equal((json as ErrorBody).error.code, "E_UNAUTHORIZED");
        }
      }
      // An API token sees every owner's files.
      assert.deepEqual((await page({ limit: "1" })).files, [own]);
    } finally {
      await remove(own, jwt);
    }
  });
});

/**
 * The file service with the routes serve mounts, on a clock the test moves:
 * expiry without sleeping through a TTL (startServe takes no clock).
 */
async function startClockedServer(clock: ManualClock): Promise<{
  url: string;
  close(): Promise<void>;
}> {
  const data = await tempDir("gamedock-files-list-");
  const { effective, logger } = await testConfig(data, {
    files: { sweepIntervalMs: 3_600_000 },
  });
  const service = await openFilesService(effective, logger, undefined, { clock });
  const app = createHttpServer({ logger, tokens: [], bodyLimit: 1024 * 1024 });
  registerFileRoutes(app, service.ctx, service.mounts);
  registerFileApiRoutes(app, service.ctx);
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    url,
    async close() {
      await app.close();
      await service.close();
      await removeDir(data);
    },
  };
}

describe("GET /api/v1/files: expired and deleted files", () => {
  const clock = new ManualClock();
  let server: { url: string; close(): Promise<void> };

  before(async () => {
    server = await startClockedServer(clock);
  });
  after(async () => {
    await server.close();
  });

  it("lists neither expired nor deleted files", async () => {
    const put = async (name: string, query = ""): Promise<FileBody> => {
      const { status, json } = await putFile(server.url, name, randomBytes(32), { query });
      assert.equal(status, 201, JSON.stringify(json));
      clock.advance(1);
      return json as FileBody;
    };
    const kept = await put("kept.bin");
    const expiring = await put("expiring.bin", "?ttl=60");
    const deleted = await put("deleted.bin");
    const listed = async (): Promise<FileBody[]> => {
      const { status, json } = await getJson(`${server.url}/api/v1/files`);
      assert.equal(status, 200, JSON.stringify(json));
      return (json as Page).files;
    };
    assert.deepEqual(await listed(), [deleted, expiring, kept]);
    assert.equal((await fetch(`${server.url}${deleted.url}`, { method: "DELETE" })).status, 204);
    assert.deepEqual(await listed(), [expiring, kept]);
    // Expired, not yet swept: gone from the list as from downloads and apk info.
    clock.advance(60_000);
    assert.deepEqual(await listed(), [kept]);
    assert.equal((await fetch(`${server.url}${expiring.url}`)).status, 404);
    const apk = await getJson(`${server.url}/api/v1/files/${expiring.id}/apk`);
    assert.equal(apk.status, 404);
    assert.equal((apk.json as ErrorBody).error.code, "E_NOT_FOUND");
  });
});
