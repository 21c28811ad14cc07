/** `gamedock apk info` against `aapt dump badging` and `apksigner verify` on every fixture. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorCode, fixture, runCli } from "../helpers/cli.js";
import { aaptBadging, apksignerVerify, skipUnlessTool } from "../helpers/tools.js";

const FIXTURES = [
  "v1v2v3.apk",
  "v1v2v3-nopad.apk",
  "v1only.apk",
  "v2only.apk",
  "v3rotated.apk",
  "chinese.apk",
  "chinese-utf16.apk",
  "chinese-aapt2.apk",
  "chinese-literal.apk",
  "longname.apk",
  "unsigned.apk",
];

describe(
  "gamedock apk info",
  { skip: skipUnlessTool("aapt") || skipUnlessTool("apksigner") },
  () => {
    for (const name of FIXTURES) {
      it(`${name}: manifest matches aapt, schemes match apksigner`, async () => {
        const result = await runCli(["apk", "info", fixture(name), "--json"]);
        assert.equal(result.code, 0, result.stderr);
        const info = JSON.parse(result.stdout) as Record<string, unknown>;
        const badging = await aaptBadging(fixture(name));
        assert.deepEqual(
          {
            package: info.package,
            versionCode: info.versionCode,
            versionName: info.versionName,
            minSdk: info.minSdk,
            targetSdk: info.targetSdk,
            label: info.label,
          },
          badging,
        );
        const verify = await apksignerVerify(fixture(name));
        if (name === "unsigned.apk") {
          assert.deepEqual(info.signatures, { v1: false, v2: false, v3: false, v31: false });
        } else {
          assert.ok(verify.ok, verify.output);
          assert.deepEqual(info.signatures, {
            v1: verify.v1,
            v2: verify.v2,
            v3: verify.v3,
            v31: verify.v31,
          });
        }
        assert.equal(info.channel, null);
        assert.equal(typeof info.size, "number");
      });
    }

    it("prints a readable summary without --json", async () => {
      const result = await runCli(["apk", "info", fixture("chinese.apk")]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /label: +游戏盒子测试/);
      assert.match(result.stdout, /version: +版本1\.0测试/);
    });

    it("a missing APK exits 4 with E_NOT_FOUND; --json errors are JSON", async () => {
      const plain = await runCli(["apk", "info", "/nonexistent/game.apk"]);
      assert.equal(plain.code, 4);
      assert.equal(errorCode(plain), "E_NOT_FOUND");
      const json = await runCli(["apk", "info", "/nonexistent/game.apk", "--json"]);
      assert.equal(json.code, 4);
      const parsed = JSON.parse(json.stderr) as { error: { code: string; message: string } };
      assert.equal(parsed.error.code, "E_NOT_FOUND");
      assert.match(parsed.error.message, /\/nonexistent\/game\.apk/);
    });
  },
);

describe("gamedock CLI usage", () => {
  it("--help explains the commands and exits 0", async () => {
    const result = await runCli(["--help"]);
    assert.equal(result.code, 0);
    for (const command of ["apk", "channel", "pack", "config"])
      assert.match(result.stdout, new RegExp(command));
    const pack = await runCli(["pack", "--help"]);
    assert.equal(pack.code, 0);
    assert.match(pack.stdout, /\{versionName\}/);
  });

  it("an unknown option is a usage error (exit 2)", async () => {
    const result = await runCli(["pack", fixture("v1v2v3.apk"), "--nope"]);
    assert.equal(result.code, 2);
    assert.equal(errorCode(result), "E_USAGE");
  });
});
