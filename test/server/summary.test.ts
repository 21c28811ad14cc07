/**
 * GET /api/v1/summary against a real `serve`: every part reported with its
 * state, the counters following what was stored and the frames a gateway
 * carried, a token required when server.tokens is set, and a part that
 * fails reported as down without failing the answer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BlobStore } from "../../src/blob/index.js";
import { mintToken, type RealtimeOperations } from "../../src/realtime/index.js";
import { sharedSummary, summarize, type Summary } from "../../src/server/summary.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { openQueueBackend } from "../../src/queue/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";
import { openSocket } from "../realtime/ws-client.js";

const SECRET = "summary-test-secret-0123456789abcdef";

describe("GET /api/v1/summary", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      server: { tokens: ["summary-token-0123456789"] },
      // The gateway rewrites its status record (its counters) every 500 ms.
      realtime: { jwtSecret: SECRET, presenceTtlMs: 1500 },
    });
  });
  after(async () => {
    await server.close();
  });

  const summary = async (): Promise<Summary> => {
    const response = await fetch(`${server.url}/api/v1/summary`, {
      headers: { authorization: "Bearer summary-token-0123456789" },
    });
    assert.equal(response.status, 200);
    return (await response.json()) as Summary;
  };

  it("needs the token when server.tokens is set", async () => {
    const response = await fetch(`${server.url}/api/v1/summary`);
    assert.equal(response.status, 401);
    assert.equal(
      ((await response.json()) as { error: { code: string } }).error.code,
      "E_UNAUTHORIZED",
    );
  });

  it("reports each part and counts what is stored", async () => {
    const before = await summary();
    assert.deepEqual(
      before.parts.map((p) => [p.part, p.state]),
      [
        ["database", "ok"],
        ["queue:default", "ok"],
        ["files", "ok"],
        ["target:fs", "ok"],
        ["executors", "off"],
        ["gateways", "ok"],
      ],
    );
    assert.equal(before.counters.realtime.gateways, 1);
    const put = await fetch(`${server.url}/files/report.txt`, {
      method: "PUT",
      headers: { authorization: "Bearer summary-token-0123456789" },
      body: "twelve bytes",
    });
    assert.equal(put.status, 201);
    // Answers are shared for up to a second: the new file shows in the next computation.
    let after = await summary();
    await waitFor(async () => {
      after = await summary();
      return after.counters.files.count !== before.counters.files.count;
    }, "the summary to count the new file");
    assert.equal(after.counters.files.count, before.counters.files.count + 1);
    assert.equal(after.counters.files.bytes, before.counters.files.bytes + 12);
    assert.equal(after.counters.files.uploads, before.counters.files.uploads + 1);
    assert.equal(after.counters.files.uploadedBytes, before.counters.files.uploadedBytes + 12);
    assert.ok(Date.parse(after.at) >= Date.parse(before.at));

    // This process's downloads: a GET counts with its bytes, a HEAD does not.
    const { id } = (await put.json()) as { id: string };
    const auth = { authorization: "Bearer summary-token-0123456789" };
    assert.equal(
      (await fetch(`${server.url}/files/${id}`, { method: "HEAD", headers: auth })).status,
      200,
    );
    const got = await fetch(`${server.url}/files/${id}`, { headers: auth });
    assert.equal(await got.text(), "twelve bytes");
    const read = after.counters.files;
    await waitFor(
      async () => (await summary()).counters.files.downloads !== read.downloads,
      "the download counted",
    );
    const files = (await summary()).counters.files;
    assert.equal(files.downloads, read.downloads + 1);
    assert.equal(files.downloadedBytes, read.downloadedBytes + 12);
  });

  it("sums the frames the gateways received and sent", async () => {
    const before = (await summary()).counters.realtime;
    assert.equal(typeof before.messagesIn, "number");
    assert.equal(typeof before.messagesOut, "number");
    const ws = await openSocket(server.url, {
      token: await mintToken(new TextEncoder().encode(SECRET), { uid: "sum", ttlSeconds: 600 }),
    });
    await ws.next(([head]) => head.msgId === 1, "the welcome");
    for (let seq = 1; seq <= 4; seq++) await ws.request(1001, seq, seq);
    // The welcome and four replies out, four requests in; once a refresh has counted them.
    await waitFor(async () => {
      const now = (await summary()).counters.realtime;
      return now.messagesIn === before.messagesIn + 4 && now.messagesOut === before.messagesOut + 5;
    }, "the summary to count the frames");
    ws.close();
  });
});

describe("summarize", () => {
  let dir = "";
  let database: Database;
  before(async () => {
    dir = await tempDir("gamedock-summary-");
    database = await openDatabase({ driver: "sqlite", path: `${dir}/db.sqlite` });
  });
  after(async () => {
    await database.close();
    await removeDir(dir);
  });

  it("reports a failing part as down, with its error, and still answers", async () => {
    const broken = {
      head: () => Promise.reject(new Error("the bucket is gone")),
    } as unknown as BlobStore;
    // Real queue backends: one answering, one closed (its health check fails).
    const live = await openQueueBackend({ driver: "sqlite", path: `${dir}/live.db` });
    const gone = await openQueueBackend({ driver: "sqlite", path: `${dir}/gone.db` });
    await gone.close();
    const result = await summarize({
      database,
      queues: new Map([
        ["jobs", live],
        ["old", gone],
      ]),
      files: broken,
      filesTarget: "s3",
      targets: new Map([
        ["cdn", () => Promise.resolve(broken)],
        ["oss", () => Promise.reject(new Error("no credentials for oss"))],
      ]),
      cluster: null,
      realtime: null,
    });
    await live.close();
    assert.match(result.parts[2]!.detail, /closed/);
    assert.deepEqual(result.parts, [
      { part: "database", state: "ok", detail: "sqlite" },
      { part: "queue:jobs", state: "ok", detail: "sqlite" },
      { part: "queue:old", state: "down", detail: result.parts[2]!.detail },
      { part: "files", state: "down", detail: "the bucket is gone" },
      { part: "target:cdn", state: "down", detail: "the bucket is gone" },
      { part: "target:oss", state: "down", detail: "no credentials for oss" },
      { part: "executors", state: "off", detail: "no task cluster" },
      { part: "gateways", state: "off", detail: "no realtime" },
    ]);
    assert.deepEqual(
      { count: result.counters.files.count, bytes: result.counters.files.bytes },
      { count: 0, bytes: 0 },
    );
  });

  it("sums connections and message counters over the live gateways", async () => {
    const gateway = (id: string, connections: number, messagesIn: number, messagesOut: number) => ({
      gatewayId: id,
      startedAt: "2026-12-01T00:00:00.000Z",
      updatedAt: "2026-12-01T00:00:01.000Z",
      connections,
      uids: connections,
      groups: 0,
      messagesIn,
      messagesOut,
      listed: [],
    });
    // An older gateway's record without counters, and one that has written none yet, count 0.
    const older: Record<string, unknown> = gateway("c", 1, 0, 0);
    delete older.messagesIn;
    delete older.messagesOut;
    const realtime = {
      gateways: () =>
        Promise.resolve([
          gateway("a", 2, 10, 30),
          gateway("b", 3, 5, 7),
          older,
          { gatewayId: "d", status: null },
        ]),
      busDriver: "redis",
    } as unknown as RealtimeOperations;
    const result = await summarize({
      database,
      queues: new Map(),
      files: { head: () => Promise.resolve(null) } as unknown as BlobStore,
      filesTarget: "fs",
      targets: new Map(),
      cluster: null,
      realtime,
    });
    assert.deepEqual(result.counters.realtime, {
      gateways: 4,
      connections: 6,
      messagesIn: 15,
      messagesOut: 37,
    });
    assert.deepEqual(result.parts.at(-1), {
      part: "gateways",
      state: "ok",
      detail: "4 gateway(s), 6 connection(s), redis bus",
    });
  });
});

describe("sharedSummary", () => {
  const answer = (n: number): Summary => ({
    at: new Date(n).toISOString(),
    parts: [],
    counters: {
      packJobs: {},
      packChannels: {},
      files: { count: n, bytes: 0, uploads: 0, uploadedBytes: 0, downloads: 0, downloadedBytes: 0 },
      tasks: {},
      realtime: { gateways: 0, connections: 0, messagesIn: 0, messagesOut: 0 },
    },
  });

  it("answers any number of requests within a second from one computation", async () => {
    let clock = 0;
    let computed = 0;
    const summary = sharedSummary(
      () => Promise.resolve(answer(++computed)),
      1000,
      () => clock,
    );
    const first = await Promise.all(Array.from({ length: 50 }, () => summary()));
    assert.equal(computed, 1);
    assert.ok(first.every((s) => s.counters.files.count === 1));
    clock = 999;
    assert.equal((await summary()).counters.files.count, 1);
    clock = 1000;
    assert.equal((await summary()).counters.files.count, 2);
    assert.equal(computed, 2);
  });

  it("does not reuse a computation that failed", async () => {
    let calls = 0;
    const summary = sharedSummary(
      () =>
        ++calls === 1 ? Promise.reject(new Error("database down")) : Promise.resolve(answer(calls)),
      1000,
      () => 0,
    );
    await assert.rejects(summary(), /database down/);
    assert.equal((await summary()).counters.files.count, 2);
  });
});
