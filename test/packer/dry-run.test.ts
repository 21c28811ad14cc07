/**
 * POST /api/v1/pack-jobs?dryRun=true runs every check of the create and
 * creates nothing; both answer every problem at once in `details.fields`
 * (one validator), so a form can show each next to its field. On an
 * API-only server: nothing runs between a request and what the test reads.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import SQLite from "better-sqlite3";
import { fixture } from "../helpers/cli.js";
import { startTestServer, type TestServer } from "../helpers/serve.js";
import type { ErrorJson } from "./jobs.js";

const MAX_CHANNELS = 200;

interface FieldJson {
  field: string;
  code: string;
  message: string;
}
type FieldsErrorJson = ErrorJson & {
  error: { details?: { field?: string; fields?: FieldJson[]; fieldsOmitted?: number } };
};

/** Every path under `dir`, relative to it. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe("pack-job dry runs and per-field errors", () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer(
      { packer: { limits: { maxChannels: MAX_CHANNELS } } },
      { stages: [] },
    );
    const packages = join(server.data, "packages");
    await mkdir(join(packages, "games"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(packages, "games", "demo.apk"));
    await copyFile(fixture("unsigned.apk"), join(packages, "unsigned.apk"));
  });
  after(async () => {
    await server.close();
  });

  const post = (body: unknown, query = "") => server.api("POST", `/api/v1/pack-jobs${query}`, body);
  const dryRun = (body: unknown) => post(body, "?dryRun=true");
  const jobCount = async (): Promise<number> =>
    ((await server.api("GET", "/api/v1/pack-jobs")).json as { total: number }).total;
  const queuedMessages = (): number => {
    const db = new SQLite(join(server.data, "queue.db"), { readonly: true });
    try {
      const row = db.prepare("SELECT count(*) AS n FROM queue_messages").get() as { n: number };
      return row.n;
    } finally {
      db.close();
    }
  };

  /** The answer's error, checked to be `status code` with no server path in it. */
  function errorOf(answer: { status: number; json: unknown }, status: number, code: string) {
    const { error } = answer.json as FieldsErrorJson;
    assert.equal(answer.status, status, JSON.stringify(answer.json));
    assert.equal(error.code, code, error.message);
    assert.ok(!JSON.stringify(answer.json).includes(server.data), "no server path in the answer");
    return error;
  }
  const fieldCodes = (fields: FieldJson[] | undefined) =>
    (fields ?? []).map(({ field, code }) => ({ field, code }));

  it("answers a valid dry run with a preview, and creates, stores and queues nothing", async () => {
    const before = await tree(server.data);
    const messages = queuedMessages();
    const body = {
      apk: "games/demo.apk",
      channels: ["huawei", { id: "xiaomi", extras: { region: "cn" } }, "应用宝"],
      extras: { source: "dashboard" },
    };
    for (const query of ["?dryRun=true", "?dryRun=1"]) {
      const answer = await post(body, query);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.deepEqual(answer.json, {
        valid: true,
        apk: "games/demo.apk",
        channels: 3,
        format: "walle",
        name: "{package}-{versionName}-{channel}.apk",
        queue: "default",
        upload: { target: "fs", prefix: "pack-jobs/" },
        notify: { level: "none", targets: [] },
        mother: {
          package: "com.gamedock.sample",
          versionName: "1.2.3",
          versionCode: 42,
          label: "Gamedock Sample",
        },
        names: [
          "com.gamedock.sample-1.2.3-huawei.apk",
          "com.gamedock.sample-1.2.3-xiaomi.apk",
          "com.gamedock.sample-1.2.3-应用宝.apk",
        ],
      });
    }
    assert.equal(await jobCount(), 0, "no job stored");
    assert.equal(queuedMessages(), messages, "no message queued");
    assert.deepEqual(await readdir(join(server.data, "work")), [], "no work files");
    const blobs = (await tree(join(server.data, "blobs"))).filter(
      (p) => !p.startsWith(".gamedock"),
    );
    assert.deepEqual(blobs, [], "nothing uploaded");
    assert.deepEqual(await tree(server.data), before, "no file created anywhere in the data dir");
  });

  it("lists a bad channel id, bad extras and a missing mother at once; the create lists the same", async () => {
    const body = {
      apk: "games/none.apk",
      channels: ["ok", "bad/slash", { id: "x", extras: { note: "ring\u0007" } }],
    };
    const expected = [
      { field: "channels.1", code: "E_CHANNEL_INVALID" },
      { field: "channels.2", code: "E_EXTRA_INVALID" },
      { field: "apk", code: "E_NOT_FOUND" },
    ];
    const dry = errorOf(await dryRun(body), 400, "E_INVALID_REQUEST");
    assert.equal(dry.details?.field, "channels.1", "the first problem's field, as before");
    assert.deepEqual(fieldCodes(dry.details?.fields), expected);
    for (const entry of dry.details?.fields ?? []) assert.ok(entry.message.length > 10);
    assert.match(dry.message, /3 problems/);

    // The create: the first problem's code and status, as before fields were collected.
    const created = errorOf(await post(body), 400, "E_CHANNEL_INVALID");
    assert.equal(created.details?.field, "channels.1");
    assert.deepEqual(created.details?.fields, dry.details?.fields, "one validator, same answer");
    assert.equal(await jobCount(), 0);

    // Alone, the missing mother still answers the create 404, and the dry run 400.
    const alone = { apk: "games/none.apk", channels: ["ok"] };
    const missing = errorOf(await post(alone), 404, "E_NOT_FOUND");
    assert.equal(missing.details?.field, "apk");
    assert.deepEqual(fieldCodes(missing.details?.fields), [{ field: "apk", code: "E_NOT_FOUND" }]);
    const dryMissing = errorOf(await dryRun(alone), 400, "E_INVALID_REQUEST");
    assert.deepEqual(dryMissing.details?.fields, missing.details?.fields);
  });

  it("lists schema issues (one per issue) together with the checks of the values that passed", async () => {
    const body = {
      apk: "games/demo.apk",
      channels: ["a", 5, "a", "b/c"],
      format: "zip",
      colour: 1,
      queue: "fast",
      upload: { target: "oss" },
      notify: { level: "each" },
    };
    const expected = [
      { field: "channels.1", code: "E_INVALID_REQUEST" },
      { field: "format", code: "E_INVALID_REQUEST" },
      { field: "", code: "E_INVALID_REQUEST" }, // the unknown field "colour"
      { field: "channels.3", code: "E_CHANNEL_INVALID" },
      { field: "channels", code: "E_CHANNEL_DUPLICATE" },
      { field: "queue", code: "E_INVALID_REQUEST" },
      { field: "upload.target", code: "E_INVALID_REQUEST" },
      { field: "notify.level", code: "E_INVALID_REQUEST" },
    ];
    const dry = errorOf(await dryRun(body), 400, "E_INVALID_REQUEST");
    assert.deepEqual(fieldCodes(dry.details?.fields), expected);
    assert.match(dry.details?.fields?.[2]?.message ?? "", /colour/);
    const created = errorOf(await post(body), 400, "E_INVALID_REQUEST");
    assert.equal(created.details?.field, "channels.1");
    assert.deepEqual(created.details?.fields, dry.details?.fields);
  });

  it("checks what depends on the mother: its signature and the object names", async () => {
    const unsigned = errorOf(
      await dryRun({ apk: "unsigned.apk", channels: ["a"], name: "{nope}.apk" }),
      400,
      "E_INVALID_REQUEST",
    );
    assert.deepEqual(fieldCodes(unsigned.details?.fields), [
      { field: "name", code: "E_TEMPLATE_FIELD" },
      { field: "apk", code: "E_UNSIGNED" },
    ]);
    const clash = errorOf(
      await dryRun({ apk: "games/demo.apk", channels: ["a", "b", "c"], name: "same.apk" }),
      400,
      "E_INVALID_REQUEST",
    );
    // One clash is reported, not one per channel.
    assert.deepEqual(fieldCodes(clash.details?.fields), [{ field: "name", code: "E_OUTPUT_NAME" }]);
    const created = errorOf(
      await post({ apk: "games/demo.apk", channels: ["a", "b", "c"], name: "same.apk" }),
      400,
      "E_OUTPUT_NAME",
    );
    assert.equal(created.details?.field, "name");
  });

  it("refuses too many channels first and still checks the other fields", async () => {
    const channels = Array.from({ length: MAX_CHANNELS + 1 }, (_, i) => `n${i}`);
    const body = { apk: "games/demo.apk", channels, name: "{nope}.apk", format: "zip" };
    const dry = errorOf(await dryRun(body), 400, "E_INVALID_REQUEST");
    assert.deepEqual(fieldCodes(dry.details?.fields), [
      { field: "channels", code: "E_CHANNELS_LIMIT" },
      { field: "format", code: "E_INVALID_REQUEST" },
      { field: "name", code: "E_TEMPLATE_FIELD" },
    ]);
    const created = errorOf(await post(body), 400, "E_CHANNELS_LIMIT");
    assert.equal(created.details?.field, "channels");
    assert.deepEqual(created.details?.fields, dry.details?.fields);
  });

  it("lists at most 100 problems and says how many more there are", async () => {
    const channels = Array.from({ length: 150 }, (_, i) => `bad/${i}`);
    const dry = errorOf(
      await dryRun({ apk: "games/demo.apk", channels }),
      400,
      "E_INVALID_REQUEST",
    );
    assert.equal(dry.details?.fields?.length, 100);
    assert.equal(dry.details?.fieldsOmitted, 50);
    assert.equal(dry.details?.fields?.[99]?.field, "channels.99");
    assert.match(dry.message, /150 problems/);
  });

  it("answers a body that is not an object with one problem of the body itself", async () => {
    const dry = errorOf(await dryRun([]), 400, "E_INVALID_REQUEST");
    assert.equal(dry.details?.field, "");
    assert.deepEqual(fieldCodes(dry.details?.fields), [{ field: "", code: "E_INVALID_REQUEST" }]);
  });

  it("refuses any dryRun other than true or 1, naming the parameter, and creates nothing", async () => {
    const body = { apk: "games/demo.apk", channels: ["a"] };
    for (const query of ["yes", "false", "0", "", "TRUE", "true&dryRun=true"]) {
      const answer = await post(body, `?dryRun=${query}`);
      const error = errorOf(answer, 400, "E_INVALID_REQUEST");
      assert.equal(error.details?.field, "dryRun", query);
      assert.match(error.message, /dryRun/);
    }
    assert.equal(await jobCount(), 0);
  });

  it("checks a mother given by file id, and an unknown id is a problem of apk.fileId", async () => {
    const put = await fetch(`${server.url}/files/${encodeURIComponent("母包.apk")}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.android.package-archive" },
      body: await readFile(fixture("v1v2v3.apk")),
    });
    assert.equal(put.status, 201);
    const { id: fileId } = (await put.json()) as { id: string };
    const answer = await dryRun({ apk: { fileId }, channels: ["a"] });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal((answer.json as { apk: string }).apk, `file:${fileId}`);
    const unknown = errorOf(
      await dryRun({ apk: { fileId: "nosuchfile" }, channels: ["a", "a/b"] }),
      400,
      "E_INVALID_REQUEST",
    );
    assert.deepEqual(fieldCodes(unknown.details?.fields), [
      { field: "channels.1", code: "E_CHANNEL_INVALID" },
      { field: "apk.fileId", code: "E_NOT_FOUND" },
    ]);
    assert.equal(await jobCount(), 0);
    assert.deepEqual(await readdir(join(server.data, "work")), []);
  });

  it("creates the job when the same body passes (the dry run's preview holds)", async () => {
    const body = { apk: "games/demo.apk", channels: ["huawei", "小米"], name: "{channel}.apk" };
    const dry = await dryRun(body);
    assert.equal(dry.status, 200);
    const created = await post(body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const job = created.json as { channels: { channel: string }[]; upload: { prefix: string } };
    assert.deepEqual(
      job.channels.map((c) => c.channel),
      ["huawei", "小米"],
    );
    assert.ok(
      job.upload.prefix.startsWith((dry.json as { upload: { prefix: string } }).upload.prefix),
    );
    assert.equal(await jobCount(), 1);
  });
});
