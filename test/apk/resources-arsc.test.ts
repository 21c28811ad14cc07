/**
 * resources.arsc: the fixtures (aapt, UTF-8 and UTF-16 pools), an aapt2 build with
 * sparse type chunks, hand-built tables for the layouts no local tool writes
 * (16-bit offsets, compact entries, bags, reference chains and loops, big configs),
 * and hostile input that must end in a GamedockError.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { TYPE } from "../../src/apk/binary-xml.js";
import { parseResourceTable } from "../../src/apk/resources-arsc.js";
import { GamedockError } from "../../src/core/errors.js";
import { fixture } from "../helpers/cli.js";
import { chunk, u16, u32, u8 } from "../helpers/res-bytes.js";

/** UTF-8 string pool; strings here are short (one-byte lengths). */
function stringPool(strings: string[]): Buffer {
  const data = strings.map((s) => {
    const bytes = Buffer.from(s);
    return Buffer.concat([u8(s.length), u8(bytes.length), bytes, u8(0)]);
  });
  const offsets: Buffer[] = [];
  let size = 0;
  for (const d of data) {
    offsets.push(u32(size));
    size += d.length;
  }
  const header = Buffer.concat([
    u32(strings.length),
    u32(0),
    u32(0x100),
    u32(28 + 4 * strings.length),
    u32(0),
  ]);
  return chunk(
    0x0001,
    header,
    Buffer.concat([...offsets, ...data, Buffer.alloc((4 - (size % 4)) % 4)]),
  );
}

const value = (dataType: number, data: number): Buffer =>
  Buffer.concat([u16(8), u8(0), u8(dataType), u32(data)]);
const simple = (dataType: number, data: number, key = 0): Buffer =>
  Buffer.concat([u16(8), u16(0), u32(key), value(dataType, data)]);
const compact = (dataType: number, data: number, key = 0): Buffer =>
  Buffer.concat([u16(key), u16(0x0008 | (dataType << 8)), u32(data)]);
const bag = (key = 0): Buffer =>
  Buffer.concat([
    u16(16),
    u16(0x0001),
    u32(key),
    u32(0),
    u32(1),
    u32(0x01010001),
    value(TYPE.STRING, 0),
  ]);

type Layout = "dense" | "offset16" | "sparse";

/** A ResTable_config of `size` bytes: all zero (default) unless `language` is given. */
function config(size: number, language?: string): Buffer {
  const c = Buffer.alloc(size);
  c.writeUInt32LE(size, 0);
  if (language) c.write(language, 8, "latin1");
  return c;
}

function typeChunk(
  typeId: number,
  cfg: Buffer,
  entries: (Buffer | null)[],
  layout: Layout,
): Buffer {
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let at = 0;
  entries.forEach((entry, i) => {
    if (entry === null) {
      if (layout === "dense") index.push(u32(0xffffffff));
      if (layout === "offset16") index.push(u16(0xffff));
      return;
    }
    if (layout === "dense") index.push(u32(at));
    if (layout === "offset16") index.push(u16(at / 4));
    if (layout === "sparse") index.push(Buffer.concat([u16(i), u16(at / 4)]));
    data.push(entry);
    at += entry.length;
  });
  const indexBytes = Buffer.concat(index);
  const pad = Buffer.alloc((4 - (indexBytes.length % 4)) % 4);
  const flags = layout === "sparse" ? 0x01 : layout === "offset16" ? 0x02 : 0;
  const headerSize = 20 + cfg.length;
  const header = Buffer.concat([
    u8(typeId),
    u8(flags),
    u16(0),
    u32(layout === "sparse" ? index.length : entries.length),
    u32(headerSize + indexBytes.length + pad.length),
    cfg,
  ]);
  return chunk(0x0201, header, Buffer.concat([indexBytes, pad, ...data]));
}

function table(
  globalStrings: string[],
  pkgId: number,
  types: string[],
  keys: string[],
  chunks: Buffer[],
): Buffer {
  const typeStrings = stringPool(types);
  const keyStrings = stringPool(keys);
  const name = Buffer.alloc(256);
  name.write("com.example", "utf16le");
  const header = Buffer.concat([
    u32(pkgId),
    name,
    u32(288),
    u32(types.length),
    u32(288 + typeStrings.length),
    u32(keys.length),
    u32(0),
  ]);
  const spec = chunk(0x0202, Buffer.concat([u8(1), u8(0), u16(0), u32(0)]), Buffer.alloc(0));
  const pkg = chunk(0x0200, header, Buffer.concat([typeStrings, keyStrings, spec, ...chunks]));
  return chunk(0x0002, u32(1), Buffer.concat([stringPool(globalStrings), pkg]));
}

const STR = (type: number, entry: number): number => (0x7f << 24) | (type << 16) | entry;

/** A table exercising every entry layout. Type 1 = string, 2 = integer, 3 = array. */
function syntheticTable(): Buffer {
  const strings = ["默认", "中文", "deutsch", "sparse-only", "offset16-only", "compact"];
  return table(
    strings,
    0x7f,
    ["string", "integer", "array"],
    ["app_name", "alias", "loop", "only_de", "c", "min"],
    [
      // A non-default config listed before the default one: the default must still win.
      typeChunk(1, config(64, "zh"), [simple(TYPE.STRING, 1, 0)], "offset16"),
      typeChunk(
        1,
        config(28),
        [
          simple(TYPE.STRING, 0, 0),
          simple(TYPE.REFERENCE, STR(1, 0), 1),
          simple(TYPE.REFERENCE, STR(1, 2), 2),
          null,
          null,
          compact(TYPE.STRING, 5, 4),
        ],
        "dense",
      ),
      typeChunk(
        1,
        config(48, "de"),
        [simple(TYPE.STRING, 2, 0), null, null, simple(TYPE.STRING, 3, 3)],
        "sparse",
      ),
      typeChunk(
        1,
        config(56, "fr"),
        [null, null, null, null, simple(TYPE.STRING, 4, 4)],
        "offset16",
      ),
      typeChunk(
        2,
        config(36),
        [simple(TYPE.INT_DEC, 23, 5), simple(TYPE.REFERENCE, STR(2, 0), 1)],
        "dense",
      ),
      typeChunk(3, config(28), [bag(0)], "dense"),
    ],
  );
}

function unzipEntry(apk: string, name: string): Buffer {
  return execFileSync("unzip", ["-p", apk, name], { maxBuffer: 64 << 20 });
}

/** Looks for a RES_TABLE_TYPE_TYPE chunk header whose flags byte has FLAG_SPARSE. */
function hasSparseTypeChunk(arsc: Buffer): boolean {
  for (let i = 0; i + 10 <= arsc.length; i += 4) {
    const headerSize = arsc.readUInt16LE(i + 2);
    const typeId = arsc[i + 8] ?? 0;
    const flags = arsc[i + 9] ?? 0;
    const plausible = headerSize >= 48 && headerSize <= 256 && typeId >= 1 && typeId <= 32;
    if (arsc.readUInt16LE(i) === 0x0201 && plausible && flags & 0x01) return true;
  }
  return false;
}

function parsesOrFailsCleanly(fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof GamedockError)) assert.fail(`${what}: threw ${String(error)}`);
    assert.equal(error.code, "E_BAD_RESOURCES", `${what}: ${error.message}`);
    assert.match(error.message, /offset \d+/, what);
  }
}

/** Reads everything a caller could ask for, so lazy decoding runs too. */
function exercise(buf: Buffer): void {
  const t = parseResourceTable(buf);
  for (let type = 1; type <= 3; type++) {
    for (let entry = 0; entry < 7; entry++) {
      t.resolveString(STR(type, entry));
      t.resolveValue(STR(type, entry));
      t.entryName(STR(type, entry));
    }
  }
}

describe("resources.arsc", () => {
  test("fixtures: Chinese strings from UTF-8 and UTF-16 value pools", () => {
    for (const name of ["chinese.apk", "chinese-utf16.apk"]) {
      const t = parseResourceTable(unzipEntry(fixture(name), "resources.arsc"));
      assert.equal(t.values.isUtf8, name === "chinese.apk");
      assert.equal(t.entryName(0x7f020000), "string/app_name");
      assert.equal(t.resolveString(0x7f020000), "游戏盒子测试");
      assert.equal(t.entryName(0x7f020001), "string/version_name");
      assert.equal(t.resolveString(0x7f020001), "版本1.0测试");
      assert.equal(t.resolveString(0x7f020002), undefined);
      assert.equal(t.resolveString(0x7f090000), undefined);
      assert.equal(t.resolveString(0x01040000), undefined);
    }
  });

  test("fixture with a >127-byte UTF-8 label (two-byte lengths)", () => {
    const label = parseResourceTable(
      unzipEntry(fixture("longname.apk"), "resources.arsc"),
    ).resolveString(0x7f020000);
    assert.ok(label !== undefined);
    assert.ok(label.startsWith('游戏盒子超长名称测试：Gamedock\'s "long label" fixture'));
    assert.ok(label.endsWith("0123456789 结束"));
    assert.ok(Buffer.byteLength(label) > 127 && label.length > 127);
  });

  test("synthetic table: dense, 16-bit and sparse offsets, compact entries, default config first", () => {
    const t = parseResourceTable(syntheticTable());
    assert.equal(t.resolveString(STR(1, 0)), "默认"); // default wins over zh, de
    assert.equal(t.entryName(STR(1, 0)), "string/app_name");
    assert.equal(t.resolveString(STR(1, 1)), "默认"); // reference followed
    assert.equal(t.resolveString(STR(1, 3)), "sparse-only"); // only in the sparse de chunk
    assert.equal(t.resolveString(STR(1, 4)), "offset16-only"); // NO_ENTRY in default, found in fr
    assert.equal(t.resolveString(STR(1, 5)), "compact");
    assert.equal(t.entryName(STR(1, 5)), "string/c");
    assert.deepEqual(t.resolveValue(STR(2, 1)), { dataType: TYPE.INT_DEC, data: 23 });
    assert.equal(t.resolveString(STR(2, 0)), undefined); // an integer is not a string
    assert.equal(t.resolveValue(STR(3, 0)), undefined); // a bag has no single value
    assert.equal(t.resolveString(STR(1, 2)), undefined); // a reference loop gives up
    assert.equal(t.resolveString(STR(1, 6)), undefined);
    assert.equal(t.resolveString(0x7e010000), undefined);
  });

  test("aapt2 with --enable-sparse-encoding: sparse configs resolve", (t) => {
    const framework = "/usr/share/android-framework-res/framework-res.apk";
    if (
      spawnSync("aapt2", ["version"]).status !== 0 ||
      spawnSync("test", ["-f", framework]).status !== 0
    ) {
      if (process.env.GAMEDOCK_REQUIRE_TOOLS === "1")
        assert.fail("aapt2 or android-framework-res missing");
      t.skip(
        "aapt2 or android-framework-res missing (apt-get install aapt2 android-framework-res)",
      );
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "gamedock-arsc-"));
    try {
      mkdirSync(join(dir, "res/values"), { recursive: true });
      mkdirSync(join(dir, "res/values-de"));
      const many = Array.from(
        { length: 20 },
        (_, i) => `<string name="s${i}">默认${i}</string>`,
      ).join("");
      writeFileSync(join(dir, "res/values/strings.xml"), `<resources>${many}</resources>`);
      writeFileSync(
        join(dir, "res/values-de/strings.xml"),
        `<resources><string name="s9">Neun</string></resources>`,
      );
      writeFileSync(
        join(dir, "AndroidManifest.xml"),
        `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.example.sparse"><uses-sdk android:minSdkVersion="26"/></manifest>`,
      );
      execFileSync("aapt2", ["compile", "--dir", join(dir, "res"), "-o", join(dir, "res.zip")]);
      execFileSync("aapt2", [
        "link",
        "--enable-sparse-encoding",
        "-I",
        framework,
        "--manifest",
        join(dir, "AndroidManifest.xml"),
        "-o",
        join(dir, "out.apk"),
        join(dir, "res.zip"),
      ]);
      const arsc = unzipEntry(join(dir, "out.apk"), "resources.arsc");
      // Type chunk flags byte: the de chunk must really be sparse, or this test proves nothing.
      assert.ok(hasSparseTypeChunk(arsc), "aapt2 wrote no sparse type chunk");
      const table = parseResourceTable(arsc);
      const names = Array.from({ length: 20 }, (_, i) => table.entryName(0x7f010000 + i) ?? "");
      const s9 = names.indexOf("string/s9");
      assert.ok(s9 >= 0, names.join(","));
      assert.equal(table.resolveString(0x7f010000 + s9), "默认9");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("wrong magic, empty input and zero-size chunks are GamedockErrors", () => {
    const good = syntheticTable();
    const xmlMagic = Buffer.from(good);
    xmlMagic.writeUInt16LE(0x0003, 0);
    for (const bad of [Buffer.alloc(0), Buffer.from("PK\x03\x04"), Buffer.alloc(64), xmlMagic]) {
      assert.throws(() => parseResourceTable(bad), {
        name: "GamedockError",
        code: "E_BAD_RESOURCES",
      });
    }
    const zeroPool = Buffer.from(good);
    zeroPool.writeUInt32LE(0, 12 + 4);
    assert.throws(() => parseResourceTable(zeroPool), {
      code: "E_BAD_RESOURCES",
      message: /chunk of 0 bytes.*offset 12/,
    });
    const zeroPackage = Buffer.from(good);
    zeroPackage.writeUInt32LE(0, 12 + zeroPackage.readUInt32LE(16) + 4);
    assert.throws(() => parseResourceTable(zeroPackage), { code: "E_BAD_RESOURCES" });
  });

  test("every prefix of a table parses or throws GamedockError", () => {
    for (const whole of [unzipEntry(fixture("chinese.apk"), "resources.arsc"), syntheticTable()]) {
      for (let cut = 0; cut < whole.length; cut++) {
        const prefix = Buffer.from(whole.subarray(0, cut));
        parsesOrFailsCleanly(() => {
          exercise(prefix);
        }, `prefix ${cut}`);
        if (cut >= 8) prefix.writeUInt32LE(cut, 4);
        parsesOrFailsCleanly(() => {
          exercise(prefix);
        }, `patched prefix ${cut}`);
      }
    }
  });

  test("random byte corruption parses or throws GamedockError", () => {
    let seed = 0x2545f491;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    for (const whole of [
      unzipEntry(fixture("chinese-utf16.apk"), "resources.arsc"),
      syntheticTable(),
    ]) {
      for (let round = 0; round < 2000; round++) {
        const copy = Buffer.from(whole);
        for (let k = 1 + Math.floor(random() * 4); k > 0; k--) {
          copy[Math.floor(random() * copy.length)] =
            random() < 0.5 ? 0xff : Math.floor(random() * 256);
        }
        parsesOrFailsCleanly(() => {
          exercise(copy);
        }, `round ${round}`);
      }
    }
  });
});
