/**
 * readManifestInfo against every fixture (literal values and `aapt dump badging`),
 * scratch APKs built with aapt for the cases the fixtures lack (codename SDKs,
 * missing uses-sdk, integer references, hex versionCode), obfuscated attribute
 * names, and truncated or missing inputs.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  readManifestInfo,
  readManifestInfoLazily,
  type ManifestInfo,
} from "../../src/apk/manifest.js";
import { GamedockError } from "../../src/core/errors.js";
import { fixture } from "../helpers/cli.js";
import { FIXTURES } from "../helpers/fixture-facts.js";
import { aaptBadging, skipUnlessTool } from "../helpers/tools.js";

const FRAMEWORK = "/usr/share/android-framework-res/framework-res.apk";

/** What test/fixtures/README.md promises for each fixture. */
const EXPECTED: Record<string, ManifestInfo> = Object.fromEntries(
  Object.entries(FIXTURES).map(([name, facts]) => [name, facts.badging]),
);

function unzipEntry(apk: string, name: string): Buffer | undefined {
  try {
    return execFileSync("unzip", ["-p", apk, name], {
      maxBuffer: 64 << 20,
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined; // unzip exits 11 when the entry is missing
  }
}

function readApk(apk: string): ManifestInfo {
  const manifest = unzipEntry(apk, "AndroidManifest.xml");
  assert.ok(manifest, `${apk} has no AndroidManifest.xml`);
  return readManifestInfo(manifest, unzipEntry(apk, "resources.arsc"));
}

/** Overwrites each UTF-16 occurrence of `names` with same-length junk, as obfuscators do. */
function scrambleNames(manifest: Buffer, names: string[]): Buffer {
  const copy = Buffer.from(manifest);
  for (const name of names) {
    const needle = Buffer.from(name, "utf16le");
    const at = copy.indexOf(needle);
    assert.ok(at > 0, `${name} not in the manifest's string pool`);
    Buffer.from("z".repeat(name.length), "utf16le").copy(copy, at);
  }
  return copy;
}

describe("readManifestInfo on the fixtures", () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    test(`${name}: known values`, () => {
      assert.deepEqual(readApk(fixture(name)), expected);
    });
    test(`${name}: same as aapt dump badging`, { skip: skipUnlessTool("aapt") }, async () => {
      const badging = await aaptBadging(fixture(name));
      const ours = readApk(fixture(name));
      assert.deepEqual(
        { ...ours, versionName: ours.versionName ?? "", label: ours.label ?? "" },
        badging,
      );
    });
  }

  test("scrambled attribute names still resolve by resource id", () => {
    const apk = fixture("chinese.apk");
    const manifest = unzipEntry(apk, "AndroidManifest.xml") ?? Buffer.alloc(0);
    const names = ["versionCode", "versionName", "minSdkVersion", "targetSdkVersion", "label"];
    assert.deepEqual(
      readManifestInfo(scrambleNames(manifest, names), unzipEntry(apk, "resources.arsc")),
      EXPECTED["chinese.apk"],
    );
  });

  test("the lazy reader loads resources.arsc when the manifest references it", async () => {
    const apk = fixture("v1v2v3.apk");
    const referencing = unzipEntry(apk, "AndroidManifest.xml");
    assert.ok(referencing);
    let loads = 0;
    const info = await readManifestInfoLazily(referencing, () => {
      loads++;
      return Promise.resolve(unzipEntry(apk, "resources.arsc"));
    });
    assert.equal(loads, 1);
    assert.deepEqual(info, EXPECTED["v1v2v3.apk"]);
  });

  test("references without resources.arsc give null, literals still read", () => {
    const manifest =
      unzipEntry(fixture("chinese-literal.apk"), "AndroidManifest.xml") ?? Buffer.alloc(0);
    const info = readManifestInfo(manifest, undefined);
    assert.equal(info.label, null);
    assert.equal(info.versionName, "正式版2.0");
  });
});

describe(
  "readManifestInfo on scratch builds",
  { skip: skipUnlessTool("aapt") || (!existsSync(FRAMEWORK) && "android-framework-res missing") },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "gamedock-manifest-"));
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    let n = 0;

    /** Builds an APK from a manifest body (inside <manifest>) and returns it with aapt's badging text. */
    function build(
      manifestAttrs: string,
      body: string,
    ): { apk: string; info: ManifestInfo; badging: string } {
      const src = join(dir, `p${++n}`);
      mkdirSync(join(src, "res/values"), { recursive: true });
      writeFileSync(
        join(src, "res/values/values.xml"),
        `<resources><integer name="sdk">17</integer><string name="name">名字</string></resources>`,
      );
      writeFileSync(
        join(src, "AndroidManifest.xml"),
        `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.x" ${manifestAttrs}>${body}</manifest>`,
      );
      const apk = join(src, "out.apk");
      execFileSync("aapt", [
        "package",
        "-f",
        "-M",
        join(src, "AndroidManifest.xml"),
        "-S",
        join(src, "res"),
        "-I",
        FRAMEWORK,
        "-F",
        apk,
      ]);
      // Not execFileSync: aapt badging exits 1 on some valid manifests (integer references).
      const badging = spawnSync("aapt", ["dump", "badging", apk], { encoding: "utf8" });
      return { apk, info: readApk(apk), badging: badging.stdout + badging.stderr };
    }

    test("a manifest of literals does not need resources.arsc", async () => {
      const { apk, info } = build(
        `android:versionCode="3" android:versionName="v3"`,
        `<uses-sdk android:minSdkVersion="21" /><application android:label="Plain" />`,
      );
      const manifest = unzipEntry(apk, "AndroidManifest.xml");
      assert.ok(manifest);
      const lazy = await readManifestInfoLazily(manifest, () =>
        Promise.reject(new Error("resources.arsc must not be read")),
      );
      assert.deepEqual(lazy, info);
      assert.equal(info.label, "Plain");
    });

    test("codename minSdkVersion maps to 10000, as the platform does", () => {
      const { info, badging } = build(
        `android:versionCode="1"`,
        `<uses-sdk android:minSdkVersion="Tiramisu"/>`,
      );
      assert.match(badging, /^sdkVersion:'Tiramisu'$/m);
      assert.deepEqual([info.minSdk, info.targetSdk], [10000, 10000]);
    });

    test("missing uses-sdk: minSdk 1, targetSdk = minSdk; missing versionName: null", () => {
      const { info, badging } = build(
        `android:versionCode="0x7fffffff"`,
        `<application android:label="lit&quot;x'y"/>`,
      );
      assert.doesNotMatch(badging, /sdkVersion/);
      assert.match(badging, /versionCode='2147483647' versionName=''/);
      assert.match(badging, /^application-label:'lit\\"x'y'$/m);
      assert.deepEqual(info, {
        package: "com.x",
        versionCode: 2147483647,
        versionName: null,
        minSdk: 1,
        targetSdk: 1,
        label: `lit"x'y`,
      });
    });

    test("targetSdk defaults to minSdk; codename targetSdk", () => {
      assert.deepEqual(pick(build("", `<uses-sdk android:minSdkVersion="15"/>`).info), [15, 15]);
      const { info, badging } = build("", `<uses-sdk android:targetSdkVersion="Q"/>`);
      assert.match(badging, /^targetSdkVersion:'Q'$/m);
      assert.deepEqual(pick(info), [1, 10000]);
    });

    test("integer and string references resolve through resources.arsc", () => {
      const { info, badging } = build(
        `android:versionName="@string/name"`,
        `<uses-sdk android:minSdkVersion="@integer/sdk" android:targetSdkVersion="@integer/sdk"/><application android:label="@string/name"/>`,
      );
      assert.deepEqual(
        [info.versionName, info.label, info.minSdk, info.targetSdk, info.versionCode],
        ["名字", "名字", 17, 17, 0],
      );
      // aapt itself gives up on an @integer minSdkVersion; the platform (and we) resolve it.
      assert.match(badging, /ERROR getting 'android:minSdkVersion' attribute/);
    });
  },
);

const pick = (info: ManifestInfo): [number, number] => [info.minSdk, info.targetSdk];

describe("readManifestInfo on bad input", () => {
  const apk = fixture("chinese.apk");
  const manifest = unzipEntry(apk, "AndroidManifest.xml") ?? Buffer.alloc(0);
  const arsc = unzipEntry(apk, "resources.arsc") ?? Buffer.alloc(0);

  function cleanly(fn: () => unknown, what: string, code: string): void {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof GamedockError)) assert.fail(`${what}: threw ${String(error)}`);
      assert.equal(error.code, code, `${what}: ${error.message}`);
    }
  }

  test("every prefix of the manifest (and of resources.arsc) reads or throws GamedockError", () => {
    for (let cut = 0; cut < manifest.length; cut++) {
      const prefix = Buffer.from(manifest.subarray(0, cut));
      if (cut >= 8) prefix.writeUInt32LE(cut, 4);
      cleanly(() => readManifestInfo(prefix, arsc), `manifest prefix ${cut}`, "E_BAD_MANIFEST");
    }
    for (let cut = 0; cut < arsc.length; cut++) {
      const prefix = Buffer.from(arsc.subarray(0, cut));
      if (cut >= 8) prefix.writeUInt32LE(cut, 4);
      cleanly(() => readManifestInfo(manifest, prefix), `arsc prefix ${cut}`, "E_BAD_RESOURCES");
    }
  });

  test("not a manifest, no package, resources.arsc swapped in", () => {
    assert.throws(() => readManifestInfo(arsc, arsc), {
      code: "E_BAD_MANIFEST",
      message: /not binary XML.*offset 0/,
    });
    assert.throws(() => readManifestInfo(Buffer.alloc(0), undefined), { code: "E_BAD_MANIFEST" });
    assert.throws(() => readManifestInfo(manifest, manifest), {
      code: "E_BAD_RESOURCES",
      message: /not a resource table/,
    });
    const noPackage = scrambleNames(manifest, ["package"]);
    assert.throws(() => readManifestInfo(noPackage, arsc), {
      code: "E_BAD_MANIFEST",
      message: /no package attribute/,
    });
  });
});
