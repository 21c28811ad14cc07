/** How compose splits a source range into UploadPartCopy parts (s3-compose.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_COPY_PART_SIZE, copyRanges } from "../../src/blob/s3/s3-compose.js";

const GiB = 1024 ** 3;

describe("copyRanges", () => {
  it("copies a range up to the limit as one part, keeping its offset", () => {
    assert.deepEqual(copyRanges(0, 2 * GiB, MAX_COPY_PART_SIZE), [[0, 2 * GiB - 1]]);
    assert.deepEqual(copyRanges(1000, MAX_COPY_PART_SIZE, MAX_COPY_PART_SIZE), [
      [1000, 1000 + MAX_COPY_PART_SIZE - 1],
    ]);
  });

  it("splits a longer range into even parts, none over the limit, none left tiny", () => {
    // 5 GiB + 1 byte: two halves, not 5 GiB and a 1-byte part the store would refuse.
    const ranges = copyRanges(0, MAX_COPY_PART_SIZE + 1, MAX_COPY_PART_SIZE);
    assert.equal(ranges.length, 2);
    const sizes = ranges.map(([a, b]) => b - a + 1);
    assert.ok(Math.min(...sizes) >= MAX_COPY_PART_SIZE / 2 - 1, String(sizes));
    assert.equal(sizes[0]! + sizes[1]!, MAX_COPY_PART_SIZE + 1);
    // Contiguous and covering exactly [start, start + length).
    const split = copyRanges(7, 12 * GiB, MAX_COPY_PART_SIZE);
    assert.equal(split.length, 3);
    assert.equal(split[0]![0], 7);
    for (let i = 1; i < split.length; i++) assert.equal(split[i]![0], split[i - 1]![1] + 1);
    assert.equal(split.at(-1)![1], 7 + 12 * GiB - 1);
    assert.ok(split.every(([a, b]) => b - a + 1 <= MAX_COPY_PART_SIZE));
  });
});
