import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_CHANNEL_LENGTH,
  parseChannelArg,
  parseChannelFileText,
  rejectDuplicates,
  validateChannelId,
} from "../../src/apk/index.js";
import { GamedockError } from "../../src/core/errors.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GamedockError, `expected GamedockError, got ${String(err)}`);
    return err.code;
  }
  return undefined;
}

describe("channel ids", () => {
  it("accepts Unicode ids up to 64 characters", () => {
    assert.equal(validateChannelId("华为应用市场", "-c"), "华为应用市场");
    const max = "渠".repeat(MAX_CHANNEL_LENGTH);
    assert.equal(validateChannelId(max, "-c"), max);
    assert.equal(validateChannelId("tap tap-2.0_x", "-c"), "tap tap-2.0_x");
  });

  it("refuses empty, too long, forbidden characters, controls, . and ..", () => {
    for (const bad of [
      "",
      "a".repeat(65),
      "a/b",
      "a\\b",
      "a:b",
      "a*b",
      "a?b",
      'a"b',
      "a<b",
      "a>b",
      "a|b",
      "a\tb",
      "a\u0000b",
      ".",
      "..",
    ]) {
      assert.equal(
        codeOf(() => validateChannelId(bad, "-c")),
        "E_CHANNEL_INVALID",
        JSON.stringify(bad),
      );
    }
  });

  it("names the offending channel and where it came from", () => {
    try {
      validateChannelId("bad/one", "channels.txt line 7");
      assert.fail("should throw");
    } catch (err) {
      assert.ok(err instanceof GamedockError);
      assert.match(err.message, /"bad\/one"/);
      assert.match(err.message, /channels\.txt line 7/);
    }
  });

  it("escapes a bidi control in the message, so the name does not display reversed", () => {
    assert.throws(
      () => validateChannelId("huawei\u202egpj", "-c"),
      (err: Error) => err.message.includes('"huawei\\u202egpj"') && !err.message.includes("\u202e"),
    );
  });
});

describe("channel lists", () => {
  it("splits -c on commas and trims", () => {
    assert.deepEqual(
      parseChannelArg(" huawei, xiaomi ,oppo").map((e) => e.channel),
      ["huawei", "xiaomi", "oppo"],
    );
  });

  it("refuses an empty item in -c", () => {
    assert.equal(
      codeOf(() => parseChannelArg("a,,b")),
      "E_CHANNEL_INVALID",
    );
  });

  it("reads files with comments, blank lines, CRLF, BOM and per-line extras", () => {
    const text =
      "\uFEFF# store channels\r\nhuawei\r\n\r\nxiaomi region=cn  tier=1 # main store\n  oppo\n#c#\n";
    const entries = parseChannelFileText(text, "ch.txt");
    assert.deepEqual(entries, [
      { channel: "huawei", extras: {}, source: "ch.txt line 2" },
      { channel: "xiaomi", extras: { region: "cn", tier: "1" }, source: "ch.txt line 4" },
      { channel: "oppo", extras: {}, source: "ch.txt line 5" },
    ]);
  });

  it("names the file line of a bad channel or extra", () => {
    assert.throws(() => parseChannelFileText("ok\nbad|one\n", "ch.txt"), /ch\.txt line 2/);
    assert.throws(
      () => parseChannelFileText("ok =novalue\n", "ch.txt"),
      (err: unknown) => {
        return (
          err instanceof GamedockError &&
          err.code === "E_EXTRA_INVALID" &&
          /line 1/.test(err.message)
        );
      },
    );
    assert.equal(
      codeOf(() => parseChannelFileText("x channel=y\n", "f")),
      "E_EXTRA_INVALID",
    );
  });

  it("refuses duplicates, naming both places", () => {
    const entries = parseChannelFileText("a\nb\na\n", "ch.txt");
    assert.throws(
      () => {
        rejectDuplicates(entries);
      },
      (err: unknown) => {
        return (
          err instanceof GamedockError &&
          err.code === "E_CHANNEL_DUPLICATE" &&
          /line 1/.test(err.message) &&
          /line 3/.test(err.message)
        );
      },
    );
  });
});
