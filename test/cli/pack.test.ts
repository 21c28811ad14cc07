/** `gamedock pack` end to end: real CLI, real files, apksigner on every child. */
import assert from "node:assert/strict";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixture, listFiles, runCli, useTempDir } from "../helpers/cli.js";
import { apksignerVerify, skipUnlessTool } from "../helpers/tools.js";

interface PackJson {
  apk: string;
  outDir: string;
  channels: { channel: string; file: string; size: number; status: string }[];
  seconds: number;
}

describe("gamedock pack", { skip: skipUnlessTool("apksigner") }, () => {
  let dir = "";
  useTempDir((d) => (dir = d));

  it("writes one verified child per channel from -f with extras and a template", async () => {
    const out = join(dir, "from-file");
    const list = join(dir, "channels.txt");
    await writeFile(list, "# stores\nhuawei\nxiaomi region=cn tier=1\n应用宝 # tencent\n");
    const result = await runCli([
      "pack",
      fixture("chinese.apk"),
      "-f",
      list,
      "-o",
      out,
      "--name",
      "{label}_{versionCode}_{channel}.apk",
      "-e",
      "batch=7",
      "-j",
      "3",
      "--json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as PackJson;
    assert.equal(report.outDir, out);
    assert.deepEqual(
      report.channels.map((c) => [c.channel, c.status]),
      [
        ["huawei", "written"],
        ["xiaomi", "written"],
        ["应用宝", "written"],
      ],
    );
    assert.deepEqual(
      await listFiles(out),
      [
        "游戏盒子测试_7_huawei.apk",
        "游戏盒子测试_7_xiaomi.apk",
        "游戏盒子测试_7_应用宝.apk",
      ].sort(),
    );
    for (const child of report.channels) {
      assert.equal((await stat(child.file)).size, child.size);
      assert.ok((await apksignerVerify(child.file)).ok);
      const get = await runCli(["channel", "get", child.file, "--json"]);
      const info = JSON.parse(get.stdout) as { channel: string; extras: Record<string, string> };
      assert.equal(info.channel, child.channel);
      assert.equal(info.extras.batch, "7");
      if (child.channel === "xiaomi")
        assert.deepEqual(info.extras, { batch: "7", region: "cn", tier: "1" });
    }
  });

  it("skips children that are already up to date, and --force rewrites them", async () => {
    const out = join(dir, "rerun");
    const args = ["pack", fixture("v1v2v3.apk"), "-c", "a,b", "-o", out, "--json"];
    assert.equal((await runCli(args)).code, 0);
    const again = JSON.parse((await runCli(args)).stdout) as PackJson;
    assert.deepEqual(
      again.channels.map((c) => c.status),
      ["skipped", "skipped"],
    );
    const forced = JSON.parse((await runCli([...args, "--force"])).stdout) as PackJson;
    assert.deepEqual(
      forced.channels.map((c) => c.status),
      ["written", "written"],
    );
    // Another channel's child sitting under our name is not silently replaced.
    const target = join(out, "com.gamedock.sample-1.2.3-a.apk");
    await writeFile(target, await readFile(join(out, "com.gamedock.sample-1.2.3-b.apk")));
    const clash = await runCli(args);
    assert.equal(clash.code, 3);
    assert.match(clash.stderr, /E_OUTPUT_EXISTS.*--force/);
  });

  it("writes output names up to 255 bytes (the temp name does not grow with them)", async () => {
    const out = join(dir, "long-names");
    const channel = "渠".repeat(64); // 192 bytes of UTF-8
    const result = await runCli([
      "pack",
      fixture("v1v2v3.apk"),
      "-c",
      channel,
      "-o",
      out,
      "--name",
      "{package}-{versionName}-{channel}-abcdefghijklmnopqrst.apk",
      "--json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const [file] = await listFiles(out);
    assert.ok(file && Buffer.byteLength(file) > 240, file);
    assert.ok((await apksignerVerify(join(out, file))).ok);
  });

  it("removes temp files left by a killed run, but not those of a live one", async () => {
    const out = join(dir, "stale");
    await mkdir(out, { recursive: true });
    const dead = join(out, ".gamedock-999999-0123456789ab.tmp");
    const live = join(out, `.gamedock-${process.pid}-0123456789ab.tmp`);
    await writeFile(dead, "half");
    await writeFile(live, "in flight");
    const result = await runCli(["pack", fixture("v1v2v3.apk"), "-c", "a", "-o", out]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok((await apksignerVerify(join(out, "com.gamedock.sample-1.2.3-a.apk"))).ok);
    assert.deepEqual(
      (await listFiles(out)).filter((f) => f.endsWith(".tmp")),
      [`.gamedock-${process.pid}-0123456789ab.tmp`],
    );
  });

  it("prints a one-line summary without --json", async () => {
    const out = join(dir, "summary");
    const result = await runCli(["pack", fixture("v2only.apk"), "-c", "one,two,three", "-o", out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^packed 3 channels of com\.gamedock\.\S+ .* 3 written, 0 skipped/);
    for (const file of await listFiles(out)) assert.ok((await apksignerVerify(join(out, file))).ok);
    assert.equal(result.stdout.trim().split("\n").length, 1);
  });

  it("says 'packed 1 channel' for one channel", async () => {
    const out = join(dir, "one");
    const result = await runCli(["pack", fixture("v2only.apk"), "-c", "solo", "-o", out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^packed 1 channel of com\.gamedock\.\S+ .* 1 written, 0 skipped/);
  });

  it("-f - reads the channel list, with extras, from stdin", async () => {
    const out = join(dir, "stdin");
    const result = await runCli(["pack", fixture("v1v2v3.apk"), "-f", "-", "-o", out, "--json"], {
      input: "# from a pipe\nhuawei\nxiaomi region=cn\n",
    });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as PackJson;
    assert.deepEqual(
      report.channels.map((c) => c.channel),
      ["huawei", "xiaomi"],
    );
    for (const child of report.channels) assert.ok((await apksignerVerify(child.file)).ok);
    const get = await runCli(["channel", "get", report.channels[1]!.file]);
    assert.equal(get.stdout.trim(), "xiaomi region=cn");

    const bad = await runCli(["pack", fixture("v1v2v3.apk"), "-f", "-", "-o", out], {
      input: "ok\nbad/one\n",
    });
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /E_CHANNEL_INVALID: .*stdin line 2/);
    const empty = await runCli(["pack", fixture("v1v2v3.apk"), "-f", "-", "-o", out], {
      input: "# nothing\n",
    });
    assert.equal(empty.code, 3);
    assert.match(empty.stderr, /E_CHANNEL_FILE: .*stdin/);
  });

  it("packs v1-only mothers with the zip-comment or META-INF style", async () => {
    for (const style of ["comment", "meta-inf"]) {
      const out = join(dir, `v1-${style}`);
      const result = await runCli([
        "pack",
        fixture("v1only.apk"),
        "-c",
        "c1,c2",
        "-o",
        out,
        "--v1-style",
        style,
        "--json",
      ]);
      assert.equal(result.code, 0, result.stderr);
      for (const child of (JSON.parse(result.stdout) as PackJson).channels) {
        const verify = await apksignerVerify(child.file);
        assert.ok(verify.ok && verify.v1, verify.output);
        const get = JSON.parse((await runCli(["channel", "get", child.file, "--json"])).stdout) as {
          channel: string;
          format: string;
        };
        assert.deepEqual(get, {
          channel: child.channel,
          extras: {},
          format: style === "comment" ? "v1-comment" : "meta-inf",
        });
      }
    }
  });

  it("channel put writes in place or to -o, with --format both", async () => {
    const copy = join(dir, "inplace.apk");
    await writeFile(copy, await readFile(fixture("v3rotated.apk")));
    const inPlace = await runCli(["channel", "put", copy, "oppo", "-e", "k=v", "--format", "both"]);
    assert.equal(inPlace.code, 0, inPlace.stderr);
    assert.ok((await apksignerVerify(copy)).ok);
    const get = await runCli(["channel", "get", copy]);
    assert.equal(get.stdout.trim(), "oppo k=v");
    const other = join(dir, "put-out.apk");
    const toFile = await runCli([
      "channel",
      "put",
      fixture("v1v2v3.apk"),
      "vivo",
      "-o",
      other,
      "--json",
    ]);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.ok((await apksignerVerify(other)).ok);
    assert.equal((await runCli(["channel", "get", fixture("v1v2v3.apk")])).code, 4);
    const bare = join(dir, "removed.apk");
    const removed = await runCli(["channel", "remove", copy, "-o", bare]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /channel oppo \(both\) removed/);
    assert.ok((await readFile(bare)).equals(await readFile(fixture("v3rotated.apk"))));
  });
});
