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
import { FIXTURES, LONG_LABEL, type Encoding } from "./fixture-facts.js";
import { aaptBadging, apksignerVerify, skipUnlessTool, toolAvailable } from "./tools.js";

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

describe("fixture structure", () => {
  for (const [name, facts] of Object.entries(FIXTURES)) {
    it(`${name}: signing block, verity padding and string pools`, async () => {
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

  it("longname.apk: the label uses the two-byte UTF-8 length forms", async () => {
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

describe("toolAvailable", () => {
  it("is a stable, cached answer", () => {
    assert.equal(toolAvailable("zipalign"), toolAvailable("zipalign"));
  });
});

describe("aaptBadging", { skip: skipUnlessTool("aapt") }, () => {
  for (const [name, facts] of Object.entries(FIXTURES)) {
    it(`${name}: matches scripts/fixture-src`, async () => {
      assert.deepEqual(await aaptBadging(fixture(name)), facts.badging);
    });
  }

  it("rejects a file that is not an APK", async () => {
    await assert.rejects(aaptBadging(fixture("keys/key-a.x509.der")), /aapt dump badging/);
  });
});

describe("apksignerVerify", { skip: skipUnlessTool("apksigner") }, () => {
  for (const [name, facts] of Object.entries(FIXTURES)) {
    it(`${name}: ${facts.schemes === null ? "does not verify" : "verifies with its schemes"}`, async () => {
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

  it("v3rotated.apk: v3 is signed by the rotated-to key B", async () => {
    const rotated = await apksignerVerify(fixture("v3rotated.apk"), { printCerts: true });
    assert.match(rotated.output, /Signer #1 certificate DN: .*key B/);
    const plain = await apksignerVerify(fixture("v1v2v3.apk"), { printCerts: true });
    assert.match(plain.output, /Signer #1 certificate DN: .*key A/);
  });

  it("v2only.apk fails when asked to cover API levels before v2 (< 24)", async () => {
    const result = await apksignerVerify(fixture("v2only.apk"), { minSdk: 21 });
    assert.equal(result.ok, false, result.output);
  });
});
