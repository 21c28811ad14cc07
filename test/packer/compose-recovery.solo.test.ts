/**
 * Crash recovery of composed children, for real: `gamedock serve` as a child
 * process composes 12 channels of a ~24 MB APK on radosgw (each child a
 * multipart upload of copy parts plus its tail) and is killed with SIGKILL
 * while a compose is in flight, then restarted. Every channel must end done
 * exactly once, byte-identical to `gamedock pack`'s child, with no incomplete
 * multipart upload of gamedock's left. Then the periodic sweep: multipart
 * uploads planted at a finished channel's key and at a mother's key no job
 * needs (what a killed writer leaves) are aborted without a restart, and one
 * at a key outside gamedock's areas is left alone.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { buildSignedApk } from "../../scripts/signed-apk.js";
import { removeDir, tempDir } from "../helpers/cli.js";
import { logLines } from "../helpers/processes.js";
import { openRadosgwBucket, type RadosgwBucket } from "../helpers/radosgw.js";
import { waitForJob } from "../helpers/serve.js";
import { skipUnlessService } from "../helpers/services.js";
import { skipUnlessTool } from "../helpers/tools.js";
import { api, packedByCli } from "./crash-kit.js";
import type { JobJson } from "./jobs.js";
import { kill9, spawnGamedock, type ServeProcess } from "./serve-process.js";

const skip = (await skipUnlessService("radosgw")) || skipUnlessTool("apksigner");
const CHANNELS = Array.from({ length: 12 }, (_, i) => `ch${String(i).padStart(2, "0")}`);
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("kill -9 while children are composed in the target", { skip }, () => {
  let dir = "";
  let data = "";
  let rgw: RadosgwBucket;
  let serve: ServeProcess | null = null;
  const config = (): string => join(dir, "config.json");

  const uploads = async (prefix = ""): Promise<string[]> => {
    const page = await rgw.client.send(
      new ListMultipartUploadsCommand({ Bucket: rgw.target.bucket, Prefix: prefix || undefined }),
    );
    return (page.Uploads ?? []).map((u) => u.Key!);
  };
  const objects = async (prefix: string): Promise<string[]> => {
    const page = await rgw.client.send(
      new ListObjectsV2Command({ Bucket: rgw.target.bucket, Prefix: prefix }),
    );
    return (page.Contents ?? []).map((o) => o.Key!);
  };

  before(async () => {
    dir = await tempDir("gamedock-compose-recovery-");
    data = join(dir, "data");
    rgw = await openRadosgwBucket("recovery");
    await writeFile(
      config(),
      JSON.stringify({
        data,
        server: { port: 0 },
        log: { level: "info", file: join(dir, "gamedock.log") },
        targets: { rgw: rgw.target },
        // A short lease, so the sweep may judge planted uploads within the test.
        packer: { target: "rgw", leaseMs: 2000, sweepIntervalMs: 500 },
      }),
    );
    await buildSignedApk(join(data, "packages", "game.apk"), 24);
  });
  after(async () => {
    if (serve) await kill9(serve);
    await rgw.drop();
    if (!process.env.KEEP) await removeDir(dir);
  });

  it("finishes every channel exactly once and leaves no multipart upload", async () => {
    serve = await spawnGamedock(["serve", "--config", config()]);
    const created = await api(serve.url, "POST", "/api/v1/pack-jobs", {
      apk: "game.apk",
      channels: CHANNELS,
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const { id } = created.json as JobJson;
    const prefix = `pack-jobs/${id}/`;

    // Kill while a child's compose is in flight: its multipart upload exists.
    await until(async () => (await uploads(prefix)).length > 0, "a compose in flight");
    await kill9(serve);
    const cut = await uploads(prefix);
    assert.ok(cut.length > 0, "killed with a compose's multipart upload open");

    serve = await spawnGamedock(["serve", "--config", config()]);
    const done = await waitForJob<JobJson>(
      { api: (m, p) => api(serve!.url, m, p) },
      id,
      (job) => job.finishedAt !== null,
      180_000,
    );
    assert.equal(done.status, "done", JSON.stringify(done.channels));
    assert.deepEqual(
      done.channels.map((c) => c.channel),
      CHANNELS,
    );

    // Byte-identical to `gamedock pack`'s children; one object per channel.
    const expected = await packedByCli(join(data, "packages", "game.apk"), CHANNELS);
    assert.equal((await objects(prefix)).length, CHANNELS.length, "one object per channel");
    for (const channel of done.channels) {
      const want = sha256(expected.get(channel.channel)!);
      const got = await rgw.client.send(
        new GetObjectCommand({ Bucket: rgw.target.bucket, Key: channel.output!.key }),
      );
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      assert.equal(sha256(bytes), want, `${channel.channel} equals gamedock pack's`);
      assert.equal(channel.output!.sha256, want);
    }
    const db = new Database(join(data, "gamedock.db"), { readonly: true, fileMustExist: true });
    const rows = db
      .prepare("SELECT state, attempts, succeeded FROM pack_tasks WHERE job_id = ?")
      .all(id) as { state: string; attempts: number; succeeded: number }[];
    db.close();
    for (const row of rows) {
      assert.equal(row.state, "done");
      assert.equal(row.succeeded, 1, "stored in one step, once");
    }
    const log = await logLines(join(dir, "gamedock.log"));
    assert.ok(
      log.some((l) => l.event === "recovered"),
      "recovery ran at start-up",
    );
    assert.equal(await objects("mothers/").then((k) => k.length), 1, "one mother");

    // Nothing half-done of the job or its mother is left.
    assert.deepEqual(await uploads(prefix), [], "no incomplete multipart upload of a child");
    assert.deepEqual(await uploads("mothers/"), [], "none of the mother");
  });

  it("the periodic sweep aborts orphaned uploads of gamedock's keys and no one else's", async () => {
    const [firstChild] = await objects("pack-jobs/");
    assert.ok(firstChild);
    const plant = async (key: string): Promise<void> => {
      await rgw.client.send(
        new CreateMultipartUploadCommand({ Bucket: rgw.target.bucket, Key: key }),
      );
    };
    const planted = Date.now();
    await plant(firstChild);
    await plant(`mothers/${"0".repeat(64)}.apk`); // a mother no job records
    await plant("other-app/upload.bin");
    await until(
      async () => (await uploads()).length === 1,
      "the sweep to abort the orphans",
      30_000,
    );
    assert.deepEqual(await uploads(), ["other-app/upload.bin"], "another program's stays");
    const aborted = (await logLines(join(dir, "gamedock.log"))).filter(
      (l) => l.event === "upload-aborted" && Date.parse(String(l["@timestamp"])) >= planted,
    );
    assert.deepEqual(
      aborted.map((l) => l.key).sort(),
      [`mothers/${"0".repeat(64)}.apk`, firstChild].sort(),
    );
  });
});
