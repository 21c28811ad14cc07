/**
 * Checks the tool helpers against every committed fixture, and the fixtures against what
 * scripts/fixture-src and test/fixtures/README.md say they are. If a fixture is rebuilt wrong,
 * this fails before any test that relies on it does.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { inflateRawSync } from "node:zlib";

import { fixture } from "./cli.js";
import {
  aaptBadging,
  apksignerVerify,
  skipUnlessTool,
  toolAvailable,
  type Badging,
} from "./tools.js";

type Encoding = "utf8" | "utf16";

interface FixtureFacts {
  badging: Badging;
  /** null: unsigned. */
  schemes: { v1: boolean; v2: boolean; v3: boolean; v31: boolean } | null;
  /** null: no APK Signing Block. */
  padding: boolean | null;
  manifestPool: Encoding;
  /** resources.arsc pools in file order: global values, package type names, package key names. */
  arscPools: [Encoding, Encoding, Encoding];
}

const SAMPLE: Badging = {
  package: "com.gamedock.sample",
  versionCode: 42,
  versionName: "1.2.3",
  minSdk: 21,
  targetSdk: 29,
  label: "Gamedock Sample",
};
const CHINESE: Badging = {
  package: "com.gamedock.chinese",
  versionCode: 7,
  versionName: "版本1.0测试",
  minSdk: 21,
  targetSdk: 29,
  label: "游戏盒子测试",
};
const LONG_LABEL =
  '游戏盒子超长名称测试：Gamedock\'s "long label" fixture — 用于测试 resources.arsc 中 ' +
  "UTF-8 字符串池的长长度编码，字符数与字节数都超过一百二十七。" +
  "The quick brown fox jumps over the lazy dog 0123456789 结束";

const ALL = { v1: true, v2: true, v3: true, v31: false };
const UTF8_ARSC: [Encoding, Encoding, Encoding] = ["utf8", "utf8", "utf8"];

const FIXTURES: Record<string, FixtureFacts> = {
  "v1v2v3.apk": {
    badging: SAMPLE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v1v2v3-nopad.apk": {
    badging: SAMPLE,
    schemes: ALL,
    padding: false,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v1only.apk": {
    badging: { ...SAMPLE, package: "com.gamedock.sample.v1only", minSdk: 19, targetSdk: 28 },
    schemes: { v1: true, v2: false, v3: false, v31: false },
    padding: null,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v2only.apk": {
    badging: { ...SAMPLE, package: "com.gamedock.sample.v2only", minSdk: 24 },
    schemes: { v1: false, v2: true, v3: false, v31: false },
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "v3rotated.apk": {
    badging: SAMPLE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "chinese.apk": {
    badging: CHINESE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "chinese-utf16.apk": {
    badging: CHINESE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: ["utf16", "utf16", "utf16"],
  },
  "chinese-aapt2.apk": {
    badging: CHINESE,
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: ["utf8", "utf16", "utf8"],
  },
  "chinese-literal.apk": {
    badging: {
      package: "com.gamedock.chinese.literal",
      versionCode: 8,
      versionName: "正式版2.0",
      minSdk: 21,
      targetSdk: 29,
      label: "游戏盒子正式版",
    },
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "longname.apk": {
    badging: {
      package: "com.gamedock.longname",
      versionCode: 9,
      versionName: "长名称1.0",
      minSdk: 21,
      targetSdk: 29,
      label: LONG_LABEL,
    },
    schemes: ALL,
    padding: true,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
  "unsigned.apk": {
    badging: SAMPLE,
    schemes: null,
    padding: null,
    manifestPool: "utf16",
    arscPools: UTF8_ARSC,
  },
};

// --- a minimal, test-only reader for the facts above (src/apk has the real one) ---------------

const EOCD_MAGIC = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const VERITY_PADDING_ID = 0x42726577;

function centralDirectoryOffset(apk: Buffer): number {
  const eocd = apk.lastIndexOf(EOCD_MAGIC);
  assert.ok(eocd >= 0, "no end of central directory");
  return apk.readUInt32LE(eocd + 16);
}

interface SigningBlock {
  start: number;
  /** Whole block, both size fields and the magic included. */
  size: number;
  ids: number[];
}

/** The APK Signing Block's place and pair ids, or null when there is none. */
function signingBlock(apk: Buffer): SigningBlock | null {
  const cd = centralDirectoryOffset(apk);
  if (cd < 32 || apk.toString("latin1", cd - 16, cd) !== "APK Sig Block 42") return null;
  const start = cd - Number(apk.readBigUInt64LE(cd - 24)) - 8;
  assert.equal(apk.readBigUInt64LE(start), apk.readBigUInt64LE(cd - 24), "block size fields");
  const ids: number[] = [];
  for (let p = start + 8; p < cd - 24; p += 8 + Number(apk.readBigUInt64LE(p))) {
    ids.push(apk.readUInt32LE(p + 8));
  }
  return { start, size: cd - start, ids };
}

function zipEntry(apk: Buffer, name: string): Buffer {
  for (let p = centralDirectoryOffset(apk); apk.readUInt32LE(p) === 0x02014b50;) {
    const method = apk.readUInt16LE(p + 10);
    const size = apk.readUInt32LE(p + 20);
    const nameLength = apk.readUInt16LE(p + 28);
    const skip = nameLength + apk.readUInt16LE(p + 30) + apk.readUInt16LE(p + 32);
    if (apk.toString("utf8", p + 46, p + 46 + nameLength) === name) {
      const local = apk.readUInt32LE(p + 42);
      const data = local + 30 + apk.readUInt16LE(local + 26) + apk.readUInt16LE(local + 28);
      const raw = apk.subarray(data, data + size);
      return method === 8 ? inflateRawSync(raw) : raw;
    }
    p += 46 + skip;
  }
  throw new Error(`no entry ${name}`);
}

interface Pool {
  encoding: Encoding;
  /** Absolute offsets of each string's length prefix. */
  stringOffsets: number[];
}

/** Every string pool chunk (0x0001), descending into table, package and XML chunks. */
function stringPools(chunk: Buffer, from = 0, to = chunk.length): Pool[] {
  const pools: Pool[] = [];
  for (let p = from; p < to; p += chunk.readUInt32LE(p + 4)) {
    const type = chunk.readUInt16LE(p);
    const headerSize = chunk.readUInt16LE(p + 2);
    if (type === 0x0001) {
      const count = chunk.readUInt32LE(p + 8);
      const utf8 = (chunk.readUInt32LE(p + 16) & 0x100) !== 0;
      const stringsStart = p + chunk.readUInt32LE(p + 20);
      const stringOffsets = Array.from(
        { length: count },
        (_, i) => stringsStart + chunk.readUInt32LE(p + headerSize + 4 * i),
      );
      pools.push({ encoding: utf8 ? "utf8" : "utf16", stringOffsets });
    } else if (type === 0x0002 || type === 0x0003 || type === 0x0200) {
      pools.push(...stringPools(chunk, p + headerSize, p + chunk.readUInt32LE(p + 4)));
    }
  }
  return pools;
}

const apks = new Map<string, Promise<Buffer>>();
const readApk = (name: string): Promise<Buffer> => {
  let apk = apks.get(name);
  if (apk === undefined) {
    apk = readFile(fixture(name));
    apks.set(name, apk);
  }
  return apk;
};

// --- the fixtures themselves (no tools needed) ---------------------------------------------------

void describe("fixture structure", () => {
  for (const [name, facts] of Object.entries(FIXTURES)) {
    void it(`${name}: signing block, verity padding and string pools`, async () => {
      const apk = await readApk(name);
      assert.ok(apk.length < 16 * 1024, `${name} should stay tiny, is ${apk.length} bytes`);
      const block = signingBlock(apk);
      if (facts.padding === null) {
        assert.equal(block, null);
      } else {
        assert.ok(block !== null, `${name} has no APK Signing Block`);
        const { ids } = block;
        assert.equal(ids.includes(VERITY_PADDING_ID), facts.padding, "verity padding pair");
        assert.equal(ids.includes(0x7109871a), facts.schemes?.v2, "v2 pair");
        assert.equal(ids.includes(0xf05368c0), facts.schemes?.v3, "v3 pair");
        assert.equal(ids.includes(0x1b93ad61), facts.schemes?.v31, "v3.1 pair");
        // apksigner also zero-pads the entries so that the block starts on a 4096 boundary.
        assert.equal(block.start % 4096, 0, "block start");
        assert.equal(block.size % 4096 === 0, facts.padding, "block size multiple of 4096");
      }
      const manifest = stringPools(zipEntry(apk, "AndroidManifest.xml"));
      assert.deepEqual(
        manifest.map((pool) => pool.encoding),
        [facts.manifestPool],
      );
      const arsc = stringPools(zipEntry(apk, "resources.arsc"));
      assert.deepEqual(
        arsc.map((pool) => pool.encoding),
        facts.arscPools,
      );
    });
  }

  void it("longname.apk: the label uses the two-byte UTF-8 length forms", async () => {
    const arsc = zipEntry(await readApk("longname.apk"), "resources.arsc");
    const values = stringPools(arsc)[0]!;
    assert.equal(values.encoding, "utf8");
    const bytes = Buffer.from(LONG_LABEL, "utf8");
    assert.ok(LONG_LABEL.length > 127 && bytes.length > 127);
    const found = values.stringOffsets.find((offset) => {
      // u8 char count (1 or 2 bytes, high bit = long), then u8 byte count, then the bytes.
      const chars = arsc[offset]! & 0x80 ? 2 : 1;
      const lengthBytes = arsc[offset + chars]! & 0x80 ? 2 : 1;
      const start = offset + chars + lengthBytes;
      return arsc.subarray(start, start + bytes.length).equals(bytes);
    });
    assert.ok(found !== undefined, "label not found in the values pool");
    assert.equal(((arsc[found]! & 0x7f) << 8) | arsc[found + 1]!, LONG_LABEL.length);
    assert.equal(((arsc[found + 2]! & 0x7f) << 8) | arsc[found + 3]!, bytes.length);
  });
});

// --- the helpers, on every fixture ----------------------------------------------------------------

void describe("toolAvailable", () => {
  void it("is a stable, cached answer", () => {
    assert.equal(toolAvailable("zipalign"), toolAvailable("zipalign"));
  });
});

void describe("aaptBadging", { skip: skipUnlessTool("aapt") }, () => {
  for (const [name, facts] of Object.entries(FIXTURES)) {
    void it(`${name}: matches scripts/fixture-src`, async () => {
      assert.deepEqual(await aaptBadging(fixture(name)), facts.badging);
    });
  }

  void it("rejects a file that is not an APK", async () => {
    await assert.rejects(aaptBadging(fixture("keys/key-a.x509.der")), /aapt dump badging/);
  });
});

void describe("apksignerVerify", { skip: skipUnlessTool("apksigner") }, () => {
  for (const [name, facts] of Object.entries(FIXTURES)) {
    void it(`${name}: ${facts.schemes === null ? "does not verify" : "verifies with its schemes"}`, async () => {
      const result = await apksignerVerify(fixture(name));
      if (facts.schemes === null) {
        assert.equal(result.ok, false, result.output);
        assert.match(result.output, /DOES NOT VERIFY/);
        return;
      }
      assert.equal(result.ok, true, result.output);
      const { v1, v2, v3, v31 } = result;
      assert.deepEqual({ v1, v2, v3, v31 }, facts.schemes, result.output);
    });
  }

  void it("v3rotated.apk: v3 is signed by the rotated-to key B", async () => {
    const rotated = await apksignerVerify(fixture("v3rotated.apk"), { printCerts: true });
    assert.match(rotated.output, /Signer #1 certificate DN: .*key B/);
    const plain = await apksignerVerify(fixture("v1v2v3.apk"), { printCerts: true });
    assert.match(plain.output, /Signer #1 certificate DN: .*key A/);
  });

  void it("v2only.apk fails when asked to cover API levels before v2 (< 24)", async () => {
    const result = await apksignerVerify(fixture("v2only.apk"), { minSdk: 21 });
    assert.equal(result.ok, false, result.output);
  });
});
