/**
 * GET /api/v1/summary against a real `serve`: every part reported with its
 * state, the counters following what was stored, a token required when
 * server.tokens is set, and a part that fails reported as down without
 * failing the answer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BlobStore } from "../../src/blob/index.js";
import { sharedSummary, summarize, type Summary } from "../../src/server/summary.js";
import { openDatabase, type Database } from "../../src/db/index.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import { waitFor } from "../helpers/wait.js";

describe("GET /api/v1/summary", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ server: { tokens: ["summary-token-0123456789"] } });
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
    assert.ok(Date.parse(after.at) >= Date.parse(before.at));
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
    const result = await summarize({
      database,
      queues: new Map([["jobs", "amqp"]]),
      files: broken,
      filesTarget: "s3",
      cluster: null,
      realtime: null,
    });
    assert.deepEqual(result.parts, [
      { part: "database", state: "ok", detail: "sqlite" },
      { part: "queue:jobs", state: "ok", detail: "amqp" },
      { part: "files", state: "down", detail: "the bucket is gone" },
      { part: "executors", state: "off", detail: "no task cluster" },
      { part: "gateways", state: "off", detail: "no realtime" },
    ]);
    assert.deepEqual(result.counters.files, { count: 0, bytes: 0 });
  });
});

describe("sharedSummary", () => {
  const answer = (n: number): Summary => ({
    at: new Date(n).toISOString(),
    parts: [],
    counters: {
      packJobs: {},
      packChannels: {},
      files: { count: n, bytes: 0 },
      tasks: {},
      realtime: { gateways: 0, connections: 0 },
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
