/**
 * The packaging service through its HTTP API on embedded defaults: jobs pack,
 * upload and finish; children equal `gamedock pack`'s and verify; every bad
 * request answers 4xx with a stable code and the field, and stores nothing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixture, listFiles, runCli, tempDir } from "../helpers/cli.js";
import { startTestServer, waitForJob, type TestServer } from "../helpers/serve.js";
import { apksignerVerify, skipUnlessTool } from "../helpers/tools.js";
import type { ErrorJson, JobJson } from "./jobs.js";

const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

describe("pack jobs over HTTP (embedded defaults)", { skip: skipUnlessTool("apksigner") }, () => {
  let server: TestServer;
  let packages = "";

  before(async () => {
    server = await startTestServer();
    packages = join(server.data, "packages");
    await mkdir(join(packages, "games"), { recursive: true });
    await copyFile(fixture("v1v2v3.apk"), join(packages, "games", "demo.apk"));
    await copyFile(fixture("unsigned.apk"), join(packages, "unsigned.apk"));
    await copyFile(fixture("chinese.apk"), join(packages, "chinese.apk"));
  });
  after(async () => {
    await server.close();
    await rm(server.data, { recursive: true, force: true });
  });

  it("packs, uploads and serves children byte-identical to `gamedock pack`", async () => {
    const channels = ["huawei", { id: "xiaomi", extras: { region: "cn" } }, "应用宝"];
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "games/demo.apk",
      channels,
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const job = created.json as JobJson;
    assert.match(job.id, /^[a-z0-9]+-[0-9a-f]{12}$/);
    assert.deepEqual(
      job.channels.map((c) => c.channel),
      ["huawei", "xiaomi", "应用宝"],
    );
    const done = await waitForJob<JobJson>(server, job.id);
    assert.equal(done.status, "done");

    const expectedDir = await tempDir();
    const packed = await runCli([
      "pack",
      fixture("v1v2v3.apk"),
      "-c",
      "huawei,应用宝",
      "-o",
      expectedDir,
      "--json",
    ]);
    assert.equal(packed.code, 0, packed.stderr);
    const xiaomi = await runCli([
      "channel",
      "put",
      fixture("v1v2v3.apk"),
      "xiaomi",
      "-e",
      "region=cn",
      "-o",
      join(expectedDir, "xiaomi.apk"),
    ]);
    assert.equal(xiaomi.code, 0, xiaomi.stderr);
    const expectedFile: Record<string, string> = {
      huawei: "com.gamedock.sample-1.2.3-huawei.apk",
      xiaomi: "xiaomi.apk",
      应用宝: "com.gamedock.sample-1.2.3-应用宝.apk",
    };
    for (const channel of done.channels) {
      assert.equal(channel.state, "done");
      assert.equal(channel.attempts, 2, "started twice: pack, then upload");
      assert.ok(channel.output?.url, "a done channel has a download url");
      const response = await fetch(`${server.url}${channel.output.url}`);
      assert.equal(response.status, 200);
      const bytes = Buffer.from(await response.arrayBuffer());
      const expected = await readFile(join(expectedDir, expectedFile[channel.channel]!));
      assert.equal(sha256(bytes), sha256(expected), `${channel.channel} equals gamedock's own`);
      assert.equal(channel.output.sha256, sha256(bytes), "the reported sha256 is the child's");
      assert.equal(channel.output.size, bytes.length);
      const blob = join(server.data, "blobs", channel.output.key);
      const verified = await apksignerVerify(blob);
      assert.ok(verified.ok && verified.v2 && verified.v3, verified.output);
    }
    // The work directory is empty once children are uploaded: nothing left behind.
    assert.deepEqual(await listFiles(join(server.data, "work", job.id)), []);
    await rm(expectedDir, { recursive: true, force: true });
  });

  it("names children from a Chinese manifest with the job's template", async () => {
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "chinese.apk",
      channels: ["华为"],
      name: "{label}-{versionName}-{channel}.apk",
      upload: { prefix: "游戏/" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const done = await waitForJob<JobJson>(server, (created.json as JobJson).id);
    assert.equal(done.status, "done");
    assert.match(done.channels[0]!.output!.key, /^游戏\/.+-华为\.apk$/);
  });

  const bad: [string, unknown, number, string, string][] = [
    ["a body that is not an object", [], 400, "E_INVALID_REQUEST", ""],
    ["no channels", { apk: "games/demo.apk", channels: [] }, 400, "E_INVALID_REQUEST", "channels"],
    [
      "an unknown field",
      { apk: "games/demo.apk", channels: ["a"], colour: 1 },
      400,
      "E_INVALID_REQUEST",
      "",
    ],
    [
      "a bad channel id",
      { apk: "games/demo.apk", channels: ["ok", "bad/slash"] },
      400,
      "E_CHANNEL_INVALID",
      "channels.1",
    ],
    [
      "a duplicate channel",
      { apk: "games/demo.apk", channels: ["a", { id: "a" }] },
      400,
      "E_CHANNEL_DUPLICATE",
      "channels",
    ],
    [
      "a bad format",
      { apk: "games/demo.apk", channels: ["a"], format: "zip" },
      400,
      "E_INVALID_REQUEST",
      "format",
    ],
    [
      "an unknown template field",
      { apk: "games/demo.apk", channels: ["a"], name: "{nope}.apk" },
      400,
      "E_TEMPLATE_FIELD",
      "name",
    ],
    [
      "a template without {channel}",
      { apk: "games/demo.apk", channels: ["a", "b"], name: "same.apk" },
      400,
      "E_OUTPUT_NAME",
      "name",
    ],
    [
      "an unknown upload target",
      { apk: "games/demo.apk", channels: ["a"], upload: { target: "oss" } },
      400,
      "E_INVALID_REQUEST",
      "upload.target",
    ],
    [
      "a bad key prefix",
      { apk: "games/demo.apk", channels: ["a"], upload: { prefix: "../x/" } },
      400,
      "E_BLOB_KEY",
      "upload.prefix",
    ],
    [
      "an unknown queue",
      { apk: "games/demo.apk", channels: ["a"], queue: "fast" },
      400,
      "E_INVALID_REQUEST",
      "queue",
    ],
    [
      "a level without notifiers",
      { apk: "games/demo.apk", channels: ["a"], notify: { level: "each" } },
      400,
      "E_INVALID_REQUEST",
      "notify.level",
    ],
    [
      "a bad level",
      { apk: "games/demo.apk", channels: ["a"], notify: { level: "loud" } },
      400,
      "E_INVALID_REQUEST",
      "notify.level",
    ],
    [
      "a path outside the root",
      { apk: "../../etc/passwd", channels: ["a"] },
      400,
      "E_PATH_OUTSIDE_ROOT",
      "apk",
    ],
    [
      "an absolute path outside the root",
      { apk: "/etc/passwd", channels: ["a"] },
      400,
      "E_PATH_OUTSIDE_ROOT",
      "apk",
    ],
    ["a missing mother", { apk: "games/none.apk", channels: ["a"] }, 404, "E_NOT_FOUND", "apk"],
    ["a directory", { apk: "games", channels: ["a"] }, 400, "E_NOT_A_FILE", "apk"],
    ["an unsigned mother", { apk: "unsigned.apk", channels: ["a"] }, 400, "E_UNSIGNED", "apk"],
    [
      "an unknown file id",
      { apk: { fileId: "nosuchfile" }, channels: ["a"] },
      404,
      "E_NOT_FOUND",
      "apk.fileId",
    ],
  ];
  for (const [what, body, status, code, field] of bad) {
    it(`refuses ${what} with ${status} ${code}`, async () => {
      const before = await server.api("GET", "/api/v1/pack-jobs");
      const result = await server.api("POST", "/api/v1/pack-jobs", body);
      assert.equal(result.status, status, JSON.stringify(result.json));
      const { error } = result.json as ErrorJson;
      assert.equal(error.code, code, error.message);
      if (field) assert.equal(error.details?.field, field, error.message);
      assert.ok(error.message.length > 10);
      const afterList = await server.api("GET", "/api/v1/pack-jobs");
      assert.equal(
        (afterList.json as { total: number }).total,
        (before.json as { total: number }).total,
        "no job was stored",
      );
    });
  }

  it("packs a mother uploaded to the file service, named by file id", async () => {
    const put = await fetch(`${server.url}/files/${encodeURIComponent("母包.apk")}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.android.package-archive" },
      body: await readFile(fixture("v1v2v3.apk")),
    });
    assert.equal(put.status, 201);
    const { id: fileId } = (await put.json()) as { id: string };
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: { fileId },
      channels: ["from-file"],
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal((created.json as JobJson).apk, `file:${fileId}`);
    const done = await waitForJob<JobJson>(server, (created.json as JobJson).id);
    assert.equal(done.status, "done");
    const child = await fetch(`${server.url}${done.channels[0]!.output!.url!}`);
    const bytes = Buffer.from(await child.arrayBuffer());
    const direct = join(packages, "direct.apk");
    const put2 = await runCli(["channel", "put", fixture("v1v2v3.apk"), "from-file", "-o", direct]);
    assert.equal(put2.code, 0, put2.stderr);
    assert.equal(sha256(bytes), sha256(await readFile(direct)));
  });

  it("refuses a symlink that leads out of the packages root", async () => {
    await symlink("/etc/hostname", join(packages, "escape.apk"));
    const result = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "escape.apk",
      channels: ["a"],
    });
    assert.equal(result.status, 400);
    assert.equal((result.json as ErrorJson).error.code, "E_PATH_OUTSIDE_ROOT");
  });

  it("answers invalid JSON with 400", async () => {
    const response = await fetch(`${server.url}/api/v1/pack-jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as ErrorJson).error.code, "E_INVALID_REQUEST");
  });

  it("answers an unknown job with 404 E_JOB_NOT_FOUND", async () => {
    for (const path of ["/api/v1/pack-jobs/nope", "/api/v1/pack-jobs/nope/events"]) {
      const result = await server.api("GET", path);
      assert.equal(result.status, 404);
      assert.equal((result.json as ErrorJson).error.code, "E_JOB_NOT_FOUND");
    }
    const cancel = await server.api("POST", "/api/v1/pack-jobs/nope/cancel");
    assert.equal(cancel.status, 404);
  });

  it("lists jobs newest first, filtered by status, with paging", async () => {
    const all = await server.api("GET", "/api/v1/pack-jobs?limit=1");
    const list = all.json as {
      jobs: { id: string; status: string }[];
      total: number;
      limit: number;
    };
    assert.equal(list.jobs.length, 1);
    assert.ok(list.total >= 2);
    const second = await server.api("GET", "/api/v1/pack-jobs?limit=1&offset=1");
    assert.notEqual((second.json as typeof list).jobs[0]?.id, list.jobs[0]?.id);
    const done = await server.api("GET", "/api/v1/pack-jobs?status=done");
    assert.ok((done.json as typeof list).jobs.every((j) => j.status === "done"));
    const failed = await server.api("GET", "/api/v1/pack-jobs?status=failed");
    assert.equal((failed.json as typeof list).total, 0);
    const badStatus = await server.api("GET", "/api/v1/pack-jobs?status=weird");
    assert.equal(badStatus.status, 400);
    const badLimit = await server.api("GET", "/api/v1/pack-jobs?limit=0");
    assert.equal(badLimit.status, 400);
  });

  it("streams progress as server-sent events that end when the job does", async () => {
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "games/demo.apk",
      channels: ["s1", "s2"],
    });
    const { id, seq } = created.json as JobJson;
    // since: the create answer's seq, so no change is missed even if the job ends first.
    const response = await fetch(`${server.url}/api/v1/pack-jobs/${id}/events?since=${seq}`);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const text = await response.text(); // the server ends the stream after `end`
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2]!) as Record<string, unknown>,
    }));
    assert.equal(events[0]?.event, "summary", "a summary first");
    assert.equal(events.at(-1)?.event, "end");
    assert.equal(events.at(-1)?.data.status, "done");
    const summary = events.filter((e) => e.event === "summary").at(-1)!.data as unknown as JobJson;
    assert.deepEqual([summary.counts.done, summary.counts.total], [2, 2]);
    // Per-channel changes: the last event of each channel says it is done.
    const lastOf = new Map<string, unknown>();
    for (const e of events)
      if (e.event === "channel") lastOf.set(String(e.data.channel), e.data.state);
    assert.deepEqual(Object.fromEntries(lastOf), { s1: "done", s2: "done" });
  });

  it("fails channels whose mother vanished, and retry re-queues them", async () => {
    await copyFile(fixture("v1v2v3.apk"), join(packages, "fleeting.apk"));
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "fleeting.apk",
      channels: Array.from({ length: 100 }, (_, i) => `r${i}`),
    });
    const { id } = created.json as JobJson;
    // Remove the mother at once: packs that have not begun (with two packing at a
    // time, most of the hundred) fail for good with E_NOT_FOUND, without retries.
    await rm(join(packages, "fleeting.apk"));
    const finished = await waitForJob<JobJson>(server, id);
    const failed = finished.channels.filter((c) => c.state === "failed");
    assert.ok(failed.length > 0, "channels not yet packed failed");
    assert.ok(["failed", "partial"].includes(finished.status));
    for (const channel of failed) {
      assert.equal(channel.error?.code, "E_NOT_FOUND");
      assert.equal(channel.attempts, 1, "a permanent failure is not retried");
    }
    await copyFile(fixture("v1v2v3.apk"), join(packages, "fleeting.apk"));
    const retried = await server.api("POST", `/api/v1/pack-jobs/${id}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.json));
    const done = await waitForJob<JobJson>(server, id);
    assert.equal(done.status, "done");
    const again = await server.api("POST", `/api/v1/pack-jobs/${id}/retry`);
    assert.equal(again.status, 409);
    assert.equal((again.json as ErrorJson).error.code, "E_JOB_STATE");
  });

  it("cancel stops channels not started; finished children stay", async () => {
    const channels = Array.from({ length: 60 }, (_, i) => `c${i}`);
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "games/demo.apk",
      channels,
    });
    const { id } = created.json as JobJson;
    const cancelled = await server.api("POST", `/api/v1/pack-jobs/${id}/cancel`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
    const finished = await waitForJob<JobJson>(server, id);
    assert.equal(finished.status, "cancelled");
    const states = new Set(finished.channels.map((c) => c.state));
    for (const state of states) assert.ok(["done", "failed"].includes(state), state);
    const stopped = finished.channels.filter((c) => c.state === "failed");
    assert.ok(stopped.length > 0, "some channels had not started");
    for (const c of stopped) assert.equal(c.error?.code, "E_CANCELLED");
    for (const c of finished.channels.filter((c) => c.state === "done")) {
      const response = await fetch(`${server.url}${c.output!.url!}`);
      assert.equal(response.status, 200, "a finished child stays downloadable");
      await response.arrayBuffer();
    }
    const again = await server.api("POST", `/api/v1/pack-jobs/${id}/cancel`);
    assert.equal(again.status, 409);
  });

  it("serves children resumably: Range, HEAD, ETag, and distinct names for Chinese channels", async () => {
    const created = await server.api("POST", "/api/v1/pack-jobs", {
      apk: "games/demo.apk",
      channels: ["华为", "小米"],
    });
    const done = await waitForJob<JobJson>(server, (created.json as JobJson).id);
    const [huawei, xiaomi] = done.channels;
    const url = `${server.url}${huawei!.output!.url!}`;
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.equal(sha256(whole), huawei!.output!.sha256);

    const part = await fetch(url, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 100-199/${whole.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), whole.subarray(100, 200));

    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(whole.length));
    const etag = head.headers.get("etag");
    assert.equal(etag, `"${huawei!.output!.sha256}"`, "the ETag is the child's sha256");
    assert.equal((await fetch(url, { headers: { "if-none-match": etag } })).status, 304);
    // A resumed download whose ETag no longer matches gets the whole child.
    const stale = await fetch(url, { headers: { range: "bytes=100-", "if-range": '"old"' } });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();
    const past = await fetch(url, { headers: { range: `bytes=${whole.length}-` } });
    assert.equal(past.status, 416);
    await past.arrayBuffer();

    const fallback = async (u: string): Promise<string> => {
      const response = await fetch(`${server.url}${u}`, { method: "HEAD" });
      return (
        /filename="([^"]*)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? ""
      );
    };
    const names = [await fallback(huawei!.output!.url!), await fallback(xiaomi!.output!.url!)];
    assert.notEqual(
      names[0],
      names[1],
      `curl -OJ must not save both as one file: ${names.join(" ")}`,
    );
  });

  it("serves /healthz and /metrics", async () => {
    const health = await server.api("GET", "/healthz");
    assert.deepEqual(health.json, { ok: true });
    const metrics = await fetch(`${server.url}/metrics`);
    const text = await metrics.text();
    assert.match(text, /gamedock_pack_channels\{state="done"\} \d+/);
    assert.match(text, /gamedock_pack_jobs\{status="done"\} \d+/);
  });
});
