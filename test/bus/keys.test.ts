/**
 * Key names and Redis Cluster slots: the CRC16 slot function against the
 * values Redis documents, and every set of keys one call uses in one slot.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { busKeys, hashTag, keySlot } from "../../src/bus/index.js";

const full = (name: string): string => `gamedock:${name}`;

describe("bus keys", () => {
  it("computes the slots Redis documents for CLUSTER KEYSLOT", () => {
    assert.equal(keySlot("somekey"), 11058);
    assert.equal(keySlot("foo{hash_tag}"), 2515);
    assert.equal(keySlot("123456789"), 0x31c3); // CRC16/XMODEM check value
    assert.equal(keySlot("foo{}{bar}"), keySlot("foo{}{bar}"), "an empty tag hashes the whole key");
    assert.equal(hashTag("foo{}{bar}"), "foo{}{bar}");
    assert.equal(hashTag("foo{{bar}}zap"), "{bar");
  });

  it("puts the keys a call uses together in one slot", () => {
    const sets = [
      // a logic group's stream and its history-less work: one key
      [busKeys.requests("lobby")],
      // the reply, its marker (appendOnce)
      [busKeys.gatewayStream("gw-1"), busKeys.replied("gw-1", "1700000000000-0")],
      // a user's history, its meta hash, its presence
      [busKeys.userHistory("42"), `${busKeys.userHistory("42")}:meta`, busKeys.userPresence("42")],
      [busKeys.groupHistory("guild-7"), `${busKeys.groupHistory("guild-7")}:meta`],
      [busKeys.broadcastHistory(), `${busKeys.broadcastHistory()}:meta`],
    ];
    for (const keys of sets) {
      const slots = new Set(keys.map((k) => keySlot(full(k))));
      assert.equal(slots.size, 1, `one slot for ${keys.join(", ")}`);
    }
    assert.notEqual(
      keySlot(full(busKeys.userHistory("1"))),
      keySlot(full(busKeys.userHistory("2"))),
      "different users spread over slots",
    );
  });

  it("escapes braces so no uid can end a tag early or look like another key", () => {
    assert.equal(busKeys.userHistory("a}b"), "{u:a%7Db}:history");
    assert.equal(busKeys.userHistory("x{y"), "{u:x%7By}:history");
    assert.equal(busKeys.userHistory("100%"), "{u:100%25}:history");
    const tricky = "a}:history{u:b";
    assert.equal(hashTag(full(busKeys.userHistory(tricky))), "u:a%7D:history%7Bu:b");
    assert.equal(
      keySlot(full(busKeys.userHistory(tricky))),
      keySlot(full(busKeys.userPresence(tricky))),
    );
  });
});
