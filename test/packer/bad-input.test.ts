/**
 * What a hostile or careless POST /api/v1/pack-jobs gets, on an API-only
 * server (no workers, so nothing runs between create and the checks): every
 * refusal is a 4xx with a stable code and the field, stores nothing, and no
 * answer names a path on the server. What a job may cost to store is bounded
 * by the size of the request that created it.
 */
import assert from "node:assert/strict";
import { mkdir, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import SQLite from "better-sqlite3";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import type { ErrorJson, JobJson } from "./jobs.js";

const LIMITS = { maxChannels: 2500, maxExtras: 32, maxExtrasBytes: 4096 };

describe("pack-job requests that must be refused or bounded", () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ packer: { limits: LIMITS } }, { stages: [] });
  });
  after(async () => {
    await server.close();
  });

  const post = (body: unknown) => server.api("POST", "/api/v1/pack-jobs", body);
  const jobCount = async (): Promise<number> =>
    ((await server.api("GET", "/api/v1/pack-jobs")).json as { total: number }).total;

  async function refused(body: unknown, status: number, code: string, field?: string) {
    const before = await jobCount();
    const answer = await post(body);
    const error = (answer.json as ErrorJson).error;
    assert.equal(answer.status, status, JSON.stringify(answer.json));
    assert.equal(error.code, code, error.message);
    if (field !== undefined) assert.equal(error.details?.field, field);
    assert.ok(!JSON.stringify(answer.json).includes(server.data), "no server path in the answer");
    assert.equal(await jobCount(), before, "nothing was stored");
    return error;
  }

  it("refuses the 3 MB request that used to fill the disk (shared extras × channels)", async () => {
    const extras = Object.fromEntries(
      Array.from({ length: 3000 }, (_, i) => [`k${i}`, "x".repeat(1024)]),
    );
    const channels = Array.from({ length: 2000 }, (_, i) => `ch${i}`);
    await refused({ apk: "demo.apk", channels, extras }, 400, "E_EXTRAS_LIMIT", "extras");
  });

  it("bounds what a job at the limits stores: shared extras once, not per channel", async () => {
    // Bytes in the database file once the write-ahead log is folded into it.
    const size = async (): Promise<number> => {
      const file = join(server.data, "gamedock.db");
      const db = new SQLite(file);
      try {
        db.pragma("wal_checkpoint(TRUNCATE)");
      } finally {
        db.close();
      }
      return (await stat(file)).size;
    };
    const extras = Object.fromEntries(
      Array.from({ length: 32 }, (_, i) => [`key${i}`, "v".repeat(110)]),
    );
    const channels = Array.from({ length: 2000 }, (_, i) => `bulk${i}`);
    const body = JSON.stringify({ apk: "demo.apk", channels, extras });
    const grown = await size();
    const created = await post(body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.deepEqual((created.json as JobJson).extras, extras);
    const perChannel = ((await size()) - grown) / channels.length;
    // A task row (ids, file name, state) is a few hundred bytes; copying the
    // 3.8 KB shared set into every row would make it more than 4 KB.
    assert.ok(perChannel < 1000, `${perChannel.toFixed(0)} bytes stored per channel`);
  });

  it("refuses more channels than packer.limits.maxChannels", async () => {
    const channels = Array.from({ length: LIMITS.maxChannels + 1 }, (_, i) => `n${i}`);
    await refused({ apk: "demo.apk", channels }, 400, "E_CHANNELS_LIMIT", "channels");
  });

  it("refuses too many or too large extras, shared or per channel", async () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    await refused(
      { apk: "demo.apk", channels: ["a"], extras: many },
      400,
      "E_EXTRAS_LIMIT",
      "extras",
    );
    await refused(
      {
        apk: "demo.apk",
        channels: [
          {
            id: "a",
            extras: {
              big: "x".repeat(1024),
              b2: "y".repeat(1024),
              b3: "z".repeat(1024),
              b4: "w".repeat(1024),
            },
          },
        ],
      },
      400,
      "E_EXTRAS_LIMIT",
      "channels.0",
    );
  });

  it("refuses a body over server.maxBodyBytes with 413", async () => {
    const huge = { apk: "demo.apk", channels: ["a"], pad: "x".repeat(5 * 1024 * 1024) };
    await refused(huge, 413, "E_REQUEST_TOO_LARGE");
  });

  it("refuses ill-formed Unicode, bidi and control characters in channels and extras", async () => {
    // A lone surrogate used to pass, fail on encodeURIComponent at upload and retry forever.
    await refused(
      { apk: "demo.apk", channels: ["\ud800"] },
      400,
      "E_CHANNEL_INVALID",
      "channels.0",
    );
    await refused({ apk: "demo.apk", channels: ["huawei\u202egpj"] }, 400, "E_CHANNEL_INVALID");
    await refused(
      { apk: "demo.apk", channels: [{ id: "a", extras: { note: "ring\u0007" } }] },
      400,
      "E_EXTRA_INVALID",
      "channels.0",
    );
    await refused(
      { apk: "demo.apk", channels: ["a"], extras: { "k\ud800": "v" } },
      400,
      "E_EXTRA_INVALID",
    );
    await refused(
      { apk: "demo.apk", channels: ["a"], extras: { channel: "x" } },
      400,
      "E_EXTRA_INVALID",
    );
  });

  it("refuses duplicate keys in the JSON body", async () => {
    const text = '{"apk":"demo.apk","channels":["a"],"channels":["b"]}';
    const error = await refused(text, 400, "E_JSON_DUPLICATE_KEY");
    assert.match(error.message, /channels/);
  });

  it("keeps a job inside its own key space, and out of gamedock's reserved areas", async () => {
    const first = await post({ apk: "demo.apk", channels: ["a"] });
    const a = first.json as JobJson;
    assert.equal(a.upload.prefix, `pack-jobs/${a.id}/`);
    // Naming another job's key space only nests this job's keys under it: its own id follows.
    const second = await post({
      apk: "demo.apk",
      channels: ["a"],
      upload: { prefix: `pack-jobs/${a.id}/` },
    });
    const b = second.json as JobJson;
    assert.equal(b.upload.prefix, `pack-jobs/${a.id}/${b.id}/`);
    for (const area of ["put/", "tus/x/", "mothers/", ".gamedock/"]) {
      await refused(
        { apk: "demo.apk", channels: ["a"], upload: { prefix: area } },
        400,
        "E_KEY_RESERVED",
        "upload.prefix",
      );
    }
  });

  it("answers paths that cannot be resolved with 4xx codes, naming only what was asked", async () => {
    const packages = join(server.data, "packages");
    await mkdir(packages, { recursive: true });
    await symlink("loop-b.apk", join(packages, "loop-a.apk"));
    await symlink("loop-a.apk", join(packages, "loop-b.apk"));
    await refused({ apk: "loop-a.apk", channels: ["a"] }, 400, "E_PATH_INVALID", "apk");
    await refused({ apk: "demo.apk/x", channels: ["a"] }, 404, "E_NOT_FOUND", "apk");
    await refused({ apk: `${"n".repeat(300)}.apk`, channels: ["a"] }, 400, "E_PATH_INVALID", "apk");
    await refused({ apk: "../outside.apk", channels: ["a"] }, 400, "E_PATH_OUTSIDE_ROOT", "apk");
    await refused({ apk: "missing.apk", channels: ["a"] }, 404, "E_NOT_FOUND", "apk");
  });

  it("answers the create with one consistent snapshot, and pages channels with a cursor", async () => {
    const channels = Array.from({ length: 1500 }, (_, i) => `p${i}`);
    const created = await post({ apk: "demo.apk", channels });
    const job = created.json as JobJson;
    assert.equal(job.status, "queued");
    assert.ok(job.channels.every((c) => c.state === "queued" && c.attempts === 0));
    assert.deepEqual([job.counts.queued, job.counts.total], [1500, 1500]);
    assert.equal(job.channels.length, 1000, "the first page");
    assert.ok(job.nextCursor);
    const first = (await server.api("GET", `/api/v1/pack-jobs/${job.id}`)).json as JobJson;
    assert.equal(first.channels.length, 1000);
    const next = (await server.api("GET", `/api/v1/pack-jobs/${job.id}?cursor=${first.nextCursor}`))
      .json as JobJson;
    assert.equal(next.channels.length, 500);
    assert.equal(next.channels[0]?.channel, "p1000");
    assert.equal(next.nextCursor, null);
    const small = (await server.api("GET", `/api/v1/pack-jobs/${job.id}?limit=10&state=queued`))
      .json as JobJson;
    assert.equal(small.channels.length, 10);
    for (const query of ["cursor=zzz", "limit=0", "limit=1001", "state=weird"]) {
      const bad = await server.api("GET", `/api/v1/pack-jobs/${job.id}?${query}`);
      assert.equal(bad.status, 400, query);
      assert.equal((bad.json as ErrorJson).error.code, "E_INVALID_REQUEST");
    }
  });
});
