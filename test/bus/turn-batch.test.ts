/** TurnBatch: calls of one event-loop turn go out together, each caller gets its own result. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TurnBatch } from "../../src/bus/index.js";

describe("TurnBatch", () => {
  it("sends the items of one turn in one call per key, answering each caller", async () => {
    const calls: [string, number[]][] = [];
    const batch = new TurnBatch<string, number, string>((key, items) => {
      calls.push([key, items]);
      return Promise.resolve(items.map((i) => `${key}:${i}`));
    });
    const results = await Promise.all([batch.add("a", 1), batch.add("b", 2), batch.add("a", 3)]);
    assert.deepEqual(results, ["a:1", "b:2", "a:3"]);
    assert.deepEqual(calls, [
      ["a", [1, 3]],
      ["b", [2]],
    ]);
    // The next turn starts a new call.
    assert.equal(await batch.add("a", 4), "a:4");
    assert.equal(calls.length, 3);
  });

  it("splits a turn's items into calls of at most maxItems", async () => {
    const sizes: number[] = [];
    const batch = new TurnBatch<string, number, number>((_key, items) => {
      sizes.push(items.length);
      return Promise.resolve(items.map((i) => i * 2));
    }, 3);
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => batch.add("k", i)));
    assert.deepEqual(results, [0, 2, 4, 6, 8, 10, 12]);
    assert.deepEqual(sizes, [3, 3, 1]);
  });

  it("rejects every caller of a failed call, and only those", async () => {
    const batch = new TurnBatch<string, number, number>((key, items) => {
      if (key === "bad") throw new Error("bus down");
      return Promise.resolve(items);
    });
    const settled = await Promise.allSettled([
      batch.add("bad", 1),
      batch.add("bad", 2),
      batch.add("good", 3),
    ]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ["rejected", "rejected", "fulfilled"],
    );
  });
});
