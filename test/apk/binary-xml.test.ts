/**
 * String pool and binary XML: hand-built documents for the encodings aapt does not
 * produce here (UTF-8 manifests, long lengths, CESU-8, obfuscated names), the real
 * fixture manifests, and hostile input that must end in a GamedockError.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import {
  findAttribute,
  findChild,
  parseBinaryXml,
  TYPE,
  ANDROID_ATTR,
} from "../../src/apk/binary-xml.js";
import { readStringPool } from "../../src/apk/string-pool.js";
import { GamedockError } from "../../src/core/errors.js";
import { fixture } from "../helpers/cli.js";
import { chunk, u16, u32, u8 } from "../helpers/res-bytes.js";

const NONE = 0xffffffff;
const ANDROID_NS = "http://schemas.android.com/apk/res/android";

/** A string as written into a pool: text, or raw UTF-8 bytes with an explicit char count. */
type PoolString = string | { bytes: Buffer; chars: number };

function stringPool(strings: PoolString[], utf8: boolean): Buffer {
  const utf8Len = (n: number): Buffer =>
    n < 0x80 ? u8(n) : Buffer.concat([u8(0x80 | (n >> 8)), u8(n)]);
  const utf16Len = (n: number): Buffer =>
    n < 0x8000 ? u16(n) : Buffer.concat([u16(0x8000 | (n >>> 16)), u16(n & 0xffff)]);
  const offsets: Buffer[] = [];
  const data: Buffer[] = [];
  let size = 0;
  for (const s of strings) {
    const bytes = typeof s === "string" ? Buffer.from(s, utf8 ? "utf8" : "utf16le") : s.bytes;
    const chars = typeof s === "string" ? s.length : s.chars;
    const encoded = utf8
      ? Buffer.concat([utf8Len(chars), utf8Len(bytes.length), bytes, u8(0)])
      : Buffer.concat([utf16Len(chars), bytes, u16(0)]);
    offsets.push(u32(size));
    data.push(encoded);
    size += encoded.length;
  }
  data.push(Buffer.alloc((4 - (size % 4)) % 4));
  const header = Buffer.concat([
    u32(strings.length),
    u32(0), // styles
    u32(utf8 ? 0x100 : 0),
    u32(28 + 4 * strings.length),
    u32(0),
  ]);
  return chunk(0x0001, header, Buffer.concat([...offsets, ...data]));
}

const node = (type: number, line: number, ext: Buffer): Buffer =>
  chunk(type, Buffer.concat([u32(line), u32(NONE)]), ext);

interface Attr {
  ns: number;
  name: number;
  raw: number;
  type: number;
  data: number;
}

function startElement(line: number, ns: number, name: number, attrs: Attr[]): Buffer {
  const ext = Buffer.concat([
    u32(ns),
    u32(name),
    u16(20),
    u16(20),
    u16(attrs.length),
    u16(0),
    u16(0),
    u16(0),
  ]);
  const body = attrs.map((a) =>
    Buffer.concat([u32(a.ns), u32(a.name), u32(a.raw), u16(8), u8(0), u8(a.type), u32(a.data)]),
  );
  return node(0x0102, line, Buffer.concat([ext, ...body]));
}

const endElement = (ns: number, name: number): Buffer =>
  node(0x0103, 0, Buffer.concat([u32(ns), u32(name)]));

function document(pool: Buffer, resourceIds: number[], nodes: Buffer[]): Buffer {
  return chunk(
    0x0003,
    Buffer.alloc(0),
    Buffer.concat([
      pool,
      chunk(0x0180, Buffer.alloc(0), Buffer.concat(resourceIds.map(u32))),
      ...nodes,
    ]),
  );
}

/** Obfuscated manifest: attribute names are empty strings; only the resource map says what they are. */
function obfuscatedManifest(utf8: boolean): Buffer {
  // 0..3 attribute names (blank, mapped to ids), then other strings.
  const strings = [
    "",
    "",
    "",
    "",
    "android",
    ANDROID_NS,
    "manifest",
    "package",
    "com.example.x",
    "版本2.0",
    "uses-sdk",
    "application",
    "versionCode",
    "游戏",
  ];
  const ids = [
    ANDROID_ATTR.versionCode,
    ANDROID_ATTR.versionName,
    ANDROID_ATTR.minSdkVersion,
    ANDROID_ATTR.label,
  ];
  const ns = 5;
  return document(stringPool(strings, utf8), ids, [
    node(0x0100, 1, Buffer.concat([u32(4), u32(ns)])),
    startElement(2, NONE, 6, [
      { ns: NONE, name: 7, raw: 8, type: TYPE.STRING, data: 8 },
      // A decoy named "versionCode" with no resource id: Android ignores it, so must we.
      { ns, name: 12, raw: NONE, type: TYPE.INT_DEC, data: 999 },
      { ns, name: 0, raw: NONE, type: TYPE.INT_HEX, data: 0x20 },
      { ns, name: 1, raw: 9, type: TYPE.STRING, data: 9 },
    ]),
    startElement(3, NONE, 10, [{ ns, name: 2, raw: NONE, type: TYPE.INT_DEC, data: 21 }]),
    endElement(NONE, 10),
    startElement(4, NONE, 11, [{ ns, name: 3, raw: NONE, type: TYPE.STRING, data: 13 }]),
    node(0x0104, 4, Buffer.concat([u32(13), u16(8), u8(0), u8(TYPE.NULL), u32(0)])),
    endElement(NONE, 11),
    endElement(NONE, 6),
    node(0x0101, 5, Buffer.concat([u32(4), u32(ns)])),
  ]);
}

function unzipEntry(apk: string, name: string): Buffer {
  return execFileSync("unzip", ["-p", apk, name], { maxBuffer: 64 << 20 });
}

/** Runs `fn`; any failure other than a GamedockError with `code` fails the test. */
function parsesOrFailsCleanly(fn: () => unknown, what: string, code = "E_BAD_MANIFEST"): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof GamedockError)) assert.fail(`${what}: threw ${String(error)}`);
    assert.equal(error.code, code, `${what}: ${error.message}`);
    assert.match(error.message, /offset \d+/, what);
  }
}

describe("string pool", () => {
  const poolOf = (strings: PoolString[], utf8: boolean) => {
    const buf = stringPool(strings, utf8);
    return readStringPool(buf, 0, buf.length, "E_BAD_MANIFEST");
  };

  test("UTF-8: short and two-byte lengths, Chinese exactly, decoded by byte length", () => {
    const long = "游".repeat(50) + "x".repeat(100); // 150 chars, 250 bytes: both lengths need 2 bytes
    const veryLong = "长".repeat(9000); // 27000 bytes, just under the 0x7fff limit
    const pool = poolOf(["", "abc", "游戏盒子测试", long, veryLong], true);
    assert.equal(pool.isUtf8, true);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => pool.get(i)),
      ["", "abc", "游戏盒子测试", long, veryLong],
    );
    // A wrong UTF-16 count (as obfuscators write) must not matter.
    const lying = poolOf([{ bytes: Buffer.from("版本1.0测试"), chars: 1 }], true);
    assert.equal(lying.get(0), "版本1.0测试");
  });

  test("UTF-16: short and two-unit lengths, surrogate pairs", () => {
    const long = "a".repeat(40000) + "游";
    const pool = poolOf(["游戏盒子测试", long, "😀"], false);
    assert.equal(pool.isUtf8, false);
    assert.deepEqual([pool.get(0), pool.get(1), pool.get(2)], ["游戏盒子测试", long, "😀"]);
  });

  test("UTF-8 with CESU-8 surrogates (old aapt) decodes to the real character", () => {
    const cesu = Buffer.from([0x61, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80, 0x62]);
    assert.equal(poolOf([{ bytes: cesu, chars: 4 }], true).get(0), "a😀b");
  });

  test("no-string and out-of-range indexes give undefined", () => {
    const pool = poolOf(["a"], true);
    assert.equal(pool.get(NONE), undefined);
    assert.equal(pool.get(1), undefined);
  });

  test("a length running past the pool is a GamedockError naming the offset", () => {
    const buf = stringPool(["abcdef"], true);
    buf[buf.readUInt32LE(20) + 1] = 0x7f; // byte length 127 runs past the pool
    const pool = readStringPool(buf, 0, buf.length, "E_BAD_RESOURCES");
    assert.throws(() => pool.get(0), { code: "E_BAD_RESOURCES", message: /string #0.*offset \d+/ });
    const header = stringPool(["a"], true);
    header.writeUInt32LE(1000, 8); // 1000 offsets cannot fit
    assert.throws(() => readStringPool(header, 0, header.length, "E_BAD_MANIFEST"), {
      code: "E_BAD_MANIFEST",
    });
  });
});

describe("binary XML", () => {
  for (const utf8 of [true, false]) {
    test(`obfuscated names resolve through the resource map (${utf8 ? "UTF-8" : "UTF-16"} pool)`, () => {
      const { root } = parseBinaryXml(obfuscatedManifest(utf8));
      assert.equal(root.name, "manifest");
      assert.equal(findAttribute(root, undefined, "package")?.rawValue, "com.example.x");
      const code = findAttribute(root, ANDROID_ATTR.versionCode, "versionCode");
      assert.deepEqual(code?.value, { dataType: TYPE.INT_HEX, data: 0x20 });
      assert.equal(code?.name, "versionCode");
      assert.equal(code?.namespace, ANDROID_NS);
      assert.equal(
        findAttribute(root, ANDROID_ATTR.versionName, "versionName")?.rawValue,
        "版本2.0",
      );
      const usesSdk = findChild(root, "uses-sdk");
      assert.equal(usesSdk?.line, 3);
      assert.equal(
        findAttribute(usesSdk ?? root, ANDROID_ATTR.minSdkVersion, "minSdkVersion")?.value.data,
        21,
      );
      const app = findChild(root, "application");
      // The typed string has no raw value: its data index is the string.
      assert.equal(findAttribute(app ?? root, ANDROID_ATTR.label, "label")?.rawValue, "游戏");
      assert.equal(app?.text, "游戏");
    });
  }

  test("fixture manifests (aapt, UTF-16 pools) parse into the expected tree", () => {
    const { root, strings } = parseBinaryXml(
      unzipEntry(fixture("chinese.apk"), "AndroidManifest.xml"),
    );
    assert.equal(strings.isUtf8, false);
    assert.equal(findAttribute(root, undefined, "package")?.rawValue, "com.gamedock.chinese");
    assert.deepEqual(findAttribute(root, ANDROID_ATTR.versionCode, "versionCode")?.value, {
      dataType: TYPE.INT_DEC,
      data: 7,
    });
    assert.equal(
      findAttribute(root, ANDROID_ATTR.versionName, "versionName")?.value.dataType,
      TYPE.REFERENCE,
    );
    const label = findAttribute(
      findChild(root, "application") ?? root,
      ANDROID_ATTR.label,
      "label",
    );
    assert.equal(label?.value.dataType, TYPE.REFERENCE);
    assert.equal((label?.value.data ?? 0) >>> 24, 0x7f);

    const literal = parseBinaryXml(
      unzipEntry(fixture("chinese-literal.apk"), "AndroidManifest.xml"),
    ).root;
    const name = findAttribute(literal, ANDROID_ATTR.versionName, "versionName");
    assert.deepEqual([name?.rawValue, name?.value.dataType], ["正式版2.0", TYPE.STRING]);
  });

  test("wrong magic, empty input and a zero-size chunk are GamedockErrors", () => {
    const good = obfuscatedManifest(true);
    const arscMagic = Buffer.from(good);
    arscMagic.writeUInt16LE(0x0002, 0);
    for (const bad of [Buffer.alloc(0), Buffer.from("PK\x03\x04"), Buffer.alloc(64), arscMagic]) {
      assert.throws(() => parseBinaryXml(bad), { name: "GamedockError", code: "E_BAD_MANIFEST" });
    }
    const zeroSize = Buffer.from(good);
    const firstChild = zeroSize.readUInt16LE(2);
    zeroSize.writeUInt32LE(0, firstChild + 4); // the string pool claims 0 bytes
    assert.throws(() => parseBinaryXml(zeroSize), {
      code: "E_BAD_MANIFEST",
      message: /header size 28 for a chunk of 0 bytes.*offset 8/,
    });
    const headerZero = Buffer.from(good);
    headerZero.writeUInt16LE(0, 2);
    assert.throws(() => parseBinaryXml(headerZero), { code: "E_BAD_MANIFEST" });
    const orphanEnd = document(stringPool(["a"], true), [], [endElement(NONE, 0)]);
    assert.throws(() => parseBinaryXml(orphanEnd), { message: /end element without a start/ });
    const noRoot = document(stringPool(["a"], true), [], []);
    assert.throws(() => parseBinaryXml(noRoot), { message: /no root element/ });
  });

  test("node bodies shorter than their kind needs are GamedockErrors", () => {
    const pool = stringPool(["manifest", "a"], true);
    const root = startElement(1, NONE, 0, []);
    const cases: [Buffer[], RegExp][] = [
      [[root, node(0x0104, 2, Buffer.alloc(4))], /CDATA/],
      [[node(0x0102, 1, Buffer.alloc(12))], /start element/],
      [[root, node(0x0103, 2, Buffer.alloc(4))], /end element/],
      [[node(0x0100, 1, Buffer.alloc(0)), root], /namespace/],
      [[chunk(0x0102, Buffer.alloc(0), Buffer.alloc(20))], /XML node header is 8 bytes/],
    ];
    const tooMany = startElement(1, NONE, 0, [{ ns: NONE, name: 1, raw: 1, type: 3, data: 1 }]);
    tooMany.writeUInt16LE(2, 16 + 12); // attributeCount 2, room for 1
    cases.push([[tooMany], /2 attributes of <manifest>/]);
    const badName = startElement(1, NONE, 7, []);
    cases.push([[badName], /element name is not a valid string index/]);
    for (const [nodes, message] of cases) {
      const doc = document(pool, [], nodes);
      assert.throws(() => parseBinaryXml(doc), { code: "E_BAD_MANIFEST", message });
    }
  });

  test("every prefix of a manifest parses or throws GamedockError", () => {
    for (const whole of [
      unzipEntry(fixture("v1v2v3.apk"), "AndroidManifest.xml"),
      obfuscatedManifest(true),
    ]) {
      for (let cut = 0; cut < whole.length; cut++) {
        const prefix = Buffer.from(whole.subarray(0, cut));
        parsesOrFailsCleanly(() => parseBinaryXml(prefix), `prefix ${cut}`);
        // Also claim the prefix is the whole document, so the cut lands inside inner chunks.
        if (cut >= 8) prefix.writeUInt32LE(cut, 4);
        parsesOrFailsCleanly(() => parseBinaryXml(prefix), `patched prefix ${cut}`);
      }
    }
  });

  test("random byte corruption parses or throws GamedockError", () => {
    let seed = 0x9e3779b9;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    const real = unzipEntry(fixture("chinese.apk"), "AndroidManifest.xml");
    for (const whole of [real, obfuscatedManifest(true), obfuscatedManifest(false)]) {
      for (let round = 0; round < 2000; round++) {
        const copy = Buffer.from(whole);
        for (let k = 1 + Math.floor(random() * 4); k > 0; k--) {
          copy[Math.floor(random() * copy.length)] =
            random() < 0.5 ? 0xff : Math.floor(random() * 256);
        }
        parsesOrFailsCleanly(() => {
          const { root } = parseBinaryXml(copy);
          JSON.stringify(root);
        }, `round ${round}`);
      }
    }
  });
});
