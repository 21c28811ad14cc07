/**
 * Children composed in the target (docs/storage.md, "Server-side copy"): on
 * radosgw, a real S3 server with UploadPartCopy, the mother goes up once to
 * mothers/<sha256>.apk and each child is a range copy of it plus its tail —
 * and the children download, verify with apksigner, carry their channel, and
 * equal `gamedock pack`'s byte for byte. s3rver, which lacks UploadPartCopy,
 * falls back to uploading children whole after one warning; so does a mother
 * whose shared prefix is below the store's minimum part size. An fs target
 * composes when told to. Mothers no job needs are swept after the retention.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { buildSignedApk } from "../../scripts/signed-apk.js";
import { fixture, runCli, tempDir } from "../helpers/cli.js";
import { logLines } from "../helpers/processes.js";
import { openRadosgwBucket, type RadosgwBucket } from "../helpers/radosgw.js";
import { s3TargetOf, startS3rver, type S3rverHandle } from "../helpers/s3rver.js";
import { startTestServer, waitForJob, type TestServer } from "../helpers/serve.js";
import { skipUnlessService } from "../helpers/services.js";
import { apksignerVerify, skipUnlessTool } from "../helpers/tools.js";
import { packedByCli } from "./crash-kit.js";
import type { JobJson } from "./jobs.js";

const skip = (await skipUnlessService("radosgw")) || skipUnlessTool("apksigner");
const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");
const MOTHER_MB = 12; // its shared prefix is above radosgw's 5 MiB minimum part size

/** A child as a user downloads it: through its output URL. */
async function download(server: TestServer, channel: JobJson["channels"][number]): Promise<Buffer> {
  const response = await fetch(`${server.url}${channel.output!.url}`);
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

async function keysUnder(bucket: RadosgwBucket, prefix: string): Promise<string[]> {
  const page = await bucket.client.send(
    new ListObjectsV2Command({ Bucket: bucket.target.bucket, Prefix: prefix }),
  );
  return (page.Contents ?? []).map((o) => o.Key!);
}

/** Checks a stored child: signatures valid, channel readable, bytes = gamedock pack's = the record. */
async function checkChild(
  bytes: Buffer,
  channel: JobJson["channels"][number],
  expected: Buffer,
  scratch: string,
): Promise<void> {
  const file = join(scratch, `${sha256(bytes)}.apk`);
  await writeFile(file, bytes);
  const verified = await apksignerVerify(file);
  assert.ok(verified.ok && verified.v2, verified.output);
  const read = await runCli(["channel", "get", file, "--json"]);
  assert.equal(read.code, 0, read.stderr);
  assert.equal((JSON.parse(read.stdout) as { channel: string }).channel, channel.channel);
  assert.equal(sha256(bytes), sha256(expected), `${channel.channel} equals gamedock pack's`);
  assert.equal(channel.output!.sha256, sha256(bytes), "the job records the child's sha256");
  assert.equal(channel.output!.size, bytes.length);
}

describe("children composed in the target", { skip }, () => {
  let rgw: RadosgwBucket;
  let s3: S3rverHandle;
  let server: TestServer;
  let scratch = "";
  let mother = "";

  before(async () => {
    rgw = await openRadosgwBucket("compose");
    s3 = await startS3rver();
    scratch = await tempDir("gamedock-compose-");
    server = await startTestServer({
      log: { level: "info", file: join(scratch, "gamedock.log") },
      targets: {
        fs: { driver: "fs", root: "" },
        rgw: rgw.target,
        plain: s3TargetOf(s3),
        fsc: { driver: "fs", root: join(scratch, "composed"), serverSideCopy: true },
      },
      packer: { target: "rgw" },
    });
    const packages = join(server.data, "packages");
    await mkdir(packages, { recursive: true });
    mother = await buildSignedApk(join(scratch, "mother", "big.apk"), MOTHER_MB);
    await copyFile(mother, join(packages, "big.apk"));
    await copyFile(fixture("v1v2v3.apk"), join(packages, "small.apk"));
  });
  after(async () => {
    await server?.close();
    await s3?.close();
    await rgw?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  async function runJob(body: Record<string, unknown>): Promise<JobJson> {
    const created = await server.api("POST", "/api/v1/pack-jobs", body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const done = await waitForJob<JobJson>(server, (created.json as JobJson).id);
    assert.equal(done.status, "done", JSON.stringify(done.channels));
    return done;
  }

  const events = async (event: string) =>
    (await logLines(join(scratch, "gamedock.log"))).filter((l) => l.event === event);

  it("composes each child from one uploaded mother; children verify and equal gamedock pack's", async () => {
    const channels = ["huawei", "xiaomi", "应用宝"];
    const done = await runJob({ apk: "big.apk", channels });
    const expected = await packedByCli(mother, channels);
    for (const channel of done.channels) {
      assert.equal(channel.attempts, 1, "one step: composed, never packed to disk then uploaded");
      const bytes = await download(server, channel);
      await checkChild(bytes, channel, expected.get(channel.channel)!, scratch);
    }
    const motherSha = sha256(await readFile(mother));
    assert.deepEqual(await keysUnder(rgw, "mothers/"), [`mothers/${motherSha}.apk`]);
    const head = await rgw.client.send(
      new HeadObjectCommand({ Bucket: rgw.target.bucket, Key: `mothers/${motherSha}.apk` }),
    );
    assert.equal(head.Metadata?.["gamedock-sha256"], motherSha, "the digest is in its metadata");
    assert.equal((await events("composed")).length, channels.length);

    // A second job of the same mother finds it there and uploads nothing but tails.
    const again = await runJob({ apk: "big.apk", channels: ["oppo"] });
    assert.equal(again.channels[0]!.attempts, 1);
    assert.equal((await events("mother-uploaded")).length, 1, "the mother went up once");
    const probes = await events("compose-probe");
    assert.equal(probes.length, 1, "the target is probed once");
    assert.equal(probes[0]!.supported, true);
  });

  it("another instance finds the mother there (same size, digest in its metadata) and uploads none", async () => {
    const other = await startTestServer({
      log: { level: "info", file: join(scratch, "other.log") },
      targets: { fs: { driver: "fs", root: "" }, rgw: rgw.target },
      packer: { target: "rgw" },
    });
    try {
      await mkdir(join(other.data, "packages"), { recursive: true });
      await copyFile(mother, join(other.data, "packages", "big.apk"));
      const created = await other.api("POST", "/api/v1/pack-jobs", {
        apk: "big.apk",
        channels: ["meizu"],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const done = await waitForJob<JobJson>(other, (created.json as JobJson).id);
      assert.equal(done.status, "done");
      const expected = await packedByCli(mother, ["meizu"]);
      await checkChild(
        await download(other, done.channels[0]!),
        done.channels[0]!,
        expected.get("meizu")!,
        scratch,
      );
    } finally {
      await other.close();
      await rm(other.data, { recursive: true, force: true });
    }
    const log = await logLines(join(scratch, "other.log"));
    assert.equal(log.filter((l) => l.event === "mother-present").length, 1);
    assert.equal(log.filter((l) => l.event === "mother-uploaded").length, 0);
  });

  it("uploads children whole where the store cannot compose, after one warning", async () => {
    const channels = ["huawei", "vivo"];
    const first = await runJob({ apk: "big.apk", channels, upload: { target: "plain" } });
    await runJob({ apk: "big.apk", channels: ["oppo"], upload: { target: "plain" } });
    const expected = await packedByCli(mother, channels);
    for (const channel of first.channels) {
      assert.equal(channel.attempts, 2, "packed to disk, then uploaded");
      const bytes = await download(server, channel);
      await checkChild(bytes, channel, expected.get(channel.channel)!, scratch);
    }
    const warnings = (await events("compose-probe")).filter((l) => l.supported === false);
    assert.equal(warnings.length, 1, "one warning for the target, not one per job");
    assert.equal(warnings[0]!.level, "warn");
    assert.match(String(warnings[0]!.reason), /UploadPartCopy|NotImplemented/);
  });

  it("uploads a child whole when the mother's shared prefix is below the minimum part size", async () => {
    const done = await runJob({ apk: "small.apk", channels: ["huawei"] });
    const channel = done.channels[0]!;
    assert.equal(channel.attempts, 2, "packed, then uploaded");
    const expected = await packedByCli(fixture("v1v2v3.apk"), ["huawei"]);
    const bytes = await download(server, channel);
    await checkChild(bytes, channel, expected.get("huawei")!, scratch);
  });

  it("composes on an fs target told to (serverSideCopy: true)", async () => {
    const done = await runJob({ apk: "big.apk", channels: ["huawei"], upload: { target: "fsc" } });
    const channel = done.channels[0]!;
    assert.equal(channel.attempts, 1);
    const expected = await packedByCli(mother, ["huawei"]);
    const bytes = await download(server, channel);
    await checkChild(bytes, channel, expected.get("huawei")!, scratch);
  });
});

describe("mothers no job needs", { skip }, () => {
  it("are deleted once the retention after their last job has passed", async () => {
    const rgw = await openRadosgwBucket("mothers");
    const scratch = await tempDir("gamedock-mothers-");
    const server = await startTestServer({
      targets: { fs: { driver: "fs", root: "" }, rgw: rgw.target },
      packer: { target: "rgw", motherRetentionMs: 0, sweepIntervalMs: 200 },
    });
    try {
      const packages = join(server.data, "packages");
      await mkdir(packages, { recursive: true });
      const mother = await buildSignedApk(join(scratch, "big.apk"), 6);
      await copyFile(mother, join(packages, "big.apk"));
      const created = await server.api("POST", "/api/v1/pack-jobs", {
        apk: "big.apk",
        channels: ["huawei"],
      });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const done = await waitForJob<JobJson>(server, (created.json as JobJson).id);
      assert.equal(done.status, "done");
      assert.equal(done.channels[0]!.attempts, 1, "composed");
      const deadline = Date.now() + 30_000;
      while ((await keysUnder(rgw, "mothers/")).length > 0) {
        assert.ok(Date.now() < deadline, "the mother was not deleted");
        await new Promise((r) => setTimeout(r, 100));
      }
      // The children stay: they are copies, not references.
      assert.deepEqual(await keysUnder(rgw, done.channels[0]!.output!.key), [
        done.channels[0]!.output!.key,
      ]);
    } finally {
      await server.close();
      await rgw.drop();
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
