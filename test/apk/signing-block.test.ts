import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  PAIR_ID,
  makePair,
  parseSigningBlock,
  schemesInBlock,
  serializeSigningBlock,
} from "../../src/apk/signing-block.js";
import { GamedockError } from "../../src/core/errors.js";

const v2 = makePair(PAIR_ID.v2, randomBytes(1337));
const v3 = makePair(PAIR_ID.v3, randomBytes(901));

describe("APK Signing Block", () => {
  it("round-trips pairs byte for byte", () => {
    const bytes = serializeSigningBlock([v2, v3], false);
    const block = parseSigningBlock(bytes, 100);
    assert.equal(block.size, bytes.length);
    assert.deepEqual(
      block.pairs.map((p) => p.raw),
      [v2.raw, v3.raw],
    );
    assert.equal(bytes.subarray(-16).toString("ascii"), "APK Sig Block 42");
  });

  it("regenerates verity padding so the block stays a multiple of 4096", () => {
    for (let extra = 0; extra < 4200; extra += 97) {
      const channel = makePair(PAIR_ID.walle, randomBytes(extra));
      const bytes = serializeSigningBlock([v2, v3, channel], true);
      assert.equal(bytes.length % 4096, 0, `extra=${extra}`);
      const pairs = parseSigningBlock(bytes, 0).pairs;
      assert.deepEqual(
        pairs.slice(0, 3).map((p) => p.raw),
        [v2.raw, v3.raw, channel.raw],
      );
      const padding = pairs.filter((p) => p.id === PAIR_ID.verityPadding);
      assert.ok(padding.length <= 1);
      assert.ok(padding.every((p) => p.raw.subarray(12).every((b) => b === 0)));
    }
  });

  it("drops an old padding pair instead of stacking a second one", () => {
    const padded = parseSigningBlock(serializeSigningBlock([v2], true), 0);
    const again = parseSigningBlock(serializeSigningBlock(padded.pairs, true), 0);
    assert.equal(again.pairs.filter((p) => p.id === PAIR_ID.verityPadding).length, 1);
    assert.equal(again.size % 4096, 0);
  });

  it("refuses blocks whose sizes disagree or whose pairs overrun", () => {
    const bytes = serializeSigningBlock([v2], false);
    const badSize = Buffer.from(bytes);
    badSize.writeBigUInt64LE(5n, 0);
    assert.throws(
      () => parseSigningBlock(badSize, 0),
      (e: unknown) => e instanceof GamedockError && e.code === "E_BAD_SIGNING_BLOCK",
    );
    const overrun = Buffer.from(bytes);
    overrun.writeBigUInt64LE(1n << 40n, 8);
    assert.throws(
      () => parseSigningBlock(overrun, 0),
      (e: unknown) => e instanceof GamedockError && e.code === "E_BAD_SIGNING_BLOCK",
    );
  });
});

describe("signature scheme detection", () => {
  it("reports v2, v3 and v3.1 from their pair ids", () => {
    const v31 = makePair(PAIR_ID.v31, randomBytes(64));
    const block = parseSigningBlock(serializeSigningBlock([v2, v3, v31], true), 0);
    assert.deepEqual(schemesInBlock(block), { v2: true, v3: true, v31: true });
    assert.deepEqual(schemesInBlock(null), { v2: false, v3: false, v31: false });
  });
});
