/**
 * Channel downloads streamed from a stored mother: the bytes equal what the
 * real `gamedock channel put` writes, apksigner accepts them, every Range is
 * the matching slice, a large mother streams in little memory with few store
 * requests, and bad input gets the CLI's error codes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { buildSignedApk } from "../../scripts/signed-apk.js";
import { serializeEmptyStoredEntry, serializeEocd } from "../../src/apk/zip-records.js";
import { openBlobStore, type BlobStore, type ByteRange } from "../../src/blob/index.js";
import { GamedockError } from "../../src/core/index.js";
import {
  blobSource,
  childStream,
  planChannelDownload,
  type ChannelExtras,
} from "../../src/files/channel-stream.js";
import { openApkFromSource } from "../../src/apk/index.js";
import { fixture, removeDir, runCli, tempDir } from "../helpers/cli.js";
import { apksignerVerify, skipUnlessTool } from "../helpers/tools.js";

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

interface Counted {
  store: BlobStore;
  gets: ByteRange[];
  bodies: Readable[];
  /** Bytes asked for by ranged gets since the last reset. */
  requested(): number;
  reset(): void;
}

/**
 * The same store with its gets recorded. A new object also means a fresh
 * layout cache (it is kept per store object). Everything else is inherited.
 */
function counting(inner: BlobStore): Counted {
  const gets: ByteRange[] = [];
  const bodies: Readable[] = [];
  const store = Object.create(inner) as BlobStore;
  store.get = async (key, range) => {
    assert.ok(range, "channel streaming never reads a whole object");
    gets.push(range);
    const body = await inner.get(key, range);
    bodies.push(body);
    return body;
  };
  return {
    store,
    gets,
    bodies,
    requested: () => gets.reduce((n, r) => n + r.end - r.start + 1, 0),
    reset: () => {
      gets.length = 0;
      bodies.length = 0;
    },
  };
}

/** A valid zip holding one empty file and no AndroidManifest.xml. */
function zipWithoutManifest(): Buffer {
  const { local, central } = serializeEmptyStoredEntry("readme.txt", 0);
  const eocd = serializeEocd({
    entryCount: 1,
    cdSize: central.length,
    cdOffset: local.length,
    comment: Buffer.alloc(0),
  });
  return Buffer.concat([local, central, eocd]);
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof GamedockError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** `channel put --format walle` through the real CLI; returns the child's bytes. */
async function cliChild(
  dir: string,
  mother: string,
  channel: string,
  extras: [string, string][],
): Promise<Buffer> {
  const out = join(
    dir,
    `cli-${createHash("md5")
      .update(mother + channel)
      .digest("hex")}.apk`,
  );
  const args = ["channel", "put", mother, channel, "-o", out, "--format", "walle"];
  for (const [k, v] of extras) args.push("-e", `${k}=${v}`);
  const result = await runCli(args);
  assert.equal(result.code, 0, result.stderr);
  return readFile(out);
}

interface Case {
  fixture: string;
  channel: string;
  extras: [string, string][];
}

const CASES: Case[] = [
  {
    fixture: "v1v2v3.apk",
    channel: "huawei",
    extras: [
      ["uid", "42"],
      ["note", "a=b c"],
    ],
  },
  { fixture: "v2only.apk", channel: "小米", extras: [["来源", "微信群"]] },
  // v1-only: no signing block, so VasDolly's zip-comment style and no extras (as the CLI).
  { fixture: "v1only.apk", channel: "华为应用市场", extras: [] },
  {
    fixture: "chinese.apk",
    channel: "应用宝",
    extras: [
      ["campaign", "春节"],
      ["uid", "7"],
    ],
  },
];

describe("channel downloads from a BlobStore", () => {
  let dir: string;
  let store: BlobStore;
  const key = (name: string): string => `mothers/${name}`;

  before(async () => {
    dir = await tempDir("gamedock-channel-stream-");
    store = await openBlobStore({ driver: "fs", root: join(dir, "blobs") });
    for (const name of [...CASES.map((c) => c.fixture), "unsigned.apk", "v3rotated.apk"]) {
      await store.putFile(key(name), fixture(name));
    }
  });
  after(async () => {
    await store.close();
    await removeDir(dir);
  });

  const sizeOf = async (name: string): Promise<number> => (await store.head(key(name)))!.size;

  for (const c of CASES) {
    it(`${c.fixture}: the full stream equals \`channel put ${c.channel}\``, async () => {
      const expected = await cliChild(dir, fixture(c.fixture), c.channel, c.extras);
      // Pairs in order, as URLSearchParams gives them.
      const extras = new URLSearchParams(c.extras);
      const { plan } = await planChannelDownload(
        store,
        key(c.fixture),
        await sizeOf(c.fixture),
        c.channel,
        extras,
      );
      assert.equal(plan.size, expected.length);
      assert.equal(plan.format, c.fixture === "v1only.apk" ? "v1-comment" : "walle");
      const streamed = await collect(childStream(store, key(c.fixture), plan));
      assert.ok(streamed.equals(expected), "streamed child differs from the CLI's");
    });
  }

  it("apksigner verifies each streamed child", { skip: skipUnlessTool("apksigner") }, async () => {
    for (const c of CASES) {
      const { plan } = await planChannelDownload(
        store,
        key(c.fixture),
        await sizeOf(c.fixture),
        c.channel,
        Object.fromEntries(c.extras),
      );
      const out = join(dir, `verify-${c.fixture}`);
      await writeFile(out, await collect(childStream(store, key(c.fixture), plan)));
      const result = await apksignerVerify(out);
      assert.ok(result.ok, `${c.fixture}: ${result.output}`);
    }
  });

  for (const name of ["v1v2v3.apk", "v1only.apk"]) {
    it(`${name}: every Range is the matching slice of the child`, async () => {
      const { plan } = await planChannelDownload(store, key(name), await sizeOf(name), "oppo", {});
      const whole = await collect(childStream(store, key(name), plan));
      const last = plan.size - 1;
      const k = plan.keepBytes;
      const ranges: [string, ByteRange][] = [
        ["first byte", { start: 0, end: 0 }],
        ["last byte", { start: last, end: last }],
        ["across keepBytes", { start: k - 100, end: k + 100 }],
        ["last mother byte", { start: k - 1, end: k - 1 }],
        ["first tail byte", { start: k, end: k }],
        ["inside the tail", { start: k + 10, end: last - 10 }],
        ["inside the mother", { start: 100, end: 2000 }],
        ["whole file", { start: 0, end: last }],
      ];
      for (const [what, range] of ranges) {
        const part = await collect(childStream(store, key(name), plan, range));
        assert.ok(part.equals(whole.subarray(range.start, range.end + 1)), what);
      }
      const cut = await collect(childStream(store, key(name), plan, { start: 5, end: last + 1e6 }));
      assert.ok(cut.equals(whole.subarray(5)), "an end past the file is cut, as HTTP does");
      assert.throws(
        () => childStream(store, key(name), plan, { start: plan.size, end: plan.size }),
        {
          code: "E_RANGE",
        },
      );
      assert.throws(() => childStream(store, key(name), plan, { start: 9, end: 3 }), {
        code: "E_RANGE",
      });
    });
  }

  it("a tail-only range does not touch the store; a mother range is one get", async () => {
    const counted = counting(store);
    const { plan } = await planChannelDownload(
      counted.store,
      key("v1v2v3.apk"),
      await sizeOf("v1v2v3.apk"),
      "vivo",
      {},
    );
    counted.reset();
    await collect(
      childStream(counted.store, key("v1v2v3.apk"), plan, {
        start: plan.keepBytes,
        end: plan.size - 1,
      }),
    );
    assert.equal(counted.gets.length, 0);
    await collect(childStream(counted.store, key("v1v2v3.apk"), plan));
    assert.deepEqual(counted.gets, [{ start: 0, end: plan.keepBytes - 1 }]);
  });

  it("parses a layout in one or two gets, and not again for the same mother", async () => {
    for (const name of ["v1v2v3.apk", "v1only.apk", "chinese.apk", "v3rotated.apk"]) {
      const counted = counting(store);
      const size = await sizeOf(name);
      await planChannelDownload(counted.store, key(name), size, "a", {});
      assert.ok(counted.gets.length <= 2, `${name}: ${counted.gets.length} gets`);
      counted.reset();
      await planChannelDownload(counted.store, key(name), size, "b", {});
      assert.equal(counted.gets.length, 0, `${name}: parsed again`);
    }
  });

  it("openApkFromSource reads the manifest through a blob source", async () => {
    const size = await sizeOf("chinese.apk");
    const source = blobSource(store, key("chinese.apk"), size);
    try {
      const { layout, manifest } = await openApkFromSource(source, "chinese");
      assert.equal(layout.size, size);
      assert.equal(manifest.package, "com.gamedock.chinese");
      assert.equal(manifest.versionName, "版本1.0测试");
      assert.equal(manifest.label, "游戏盒子测试");
    } finally {
      await source.close();
    }
  });

  it("the etag is stable for the same inputs and changes with any of them", async () => {
    const size = await sizeOf("v1v2v3.apk");
    const plan = (channel: string, extras: ChannelExtras): Promise<string> =>
      planChannelDownload(store, key("v1v2v3.apk"), size, channel, extras).then((d) => d.etag);
    const base = await plan("huawei", { a: "1", b: "2" });
    assert.equal(await plan("huawei", { a: "1", b: "2" }), base);
    assert.equal(await plan("huawei", new URLSearchParams("a=1&b=2")), base);
    assert.notEqual(await plan("xiaomi", { a: "1", b: "2" }), base);
    assert.notEqual(await plan("huawei", { a: "1", b: "3" }), base);
    assert.notEqual(await plan("huawei", { a: "1" }), base);
    // The Walle JSON keeps the order of the extras, so the bytes (and the etag) follow it.
    assert.notEqual(await plan("huawei", { b: "2", a: "1" }), base);

    // A new object under the same key is a new mother: new etag, new layout, new bytes.
    const swapped = "mothers/swapped.apk";
    await store.putFile(swapped, fixture("v1v2v3.apk"));
    const first = await planChannelDownload(store, swapped, size, "huawei", {});
    await store.putFile(swapped, fixture("chinese.apk"));
    const second = await planChannelDownload(store, swapped, size, "huawei", {});
    assert.notEqual(second.etag, first.etag);
    const bytes = await collect(childStream(store, swapped, second.plan));
    assert.ok(bytes.equals(await cliChild(dir, fixture("chinese.apk"), "huawei", [])));
  });

  describe("refuses bad input with the CLI's codes", () => {
    const plan = async (name: string, channel: string, extras: ChannelExtras): Promise<unknown> =>
      planChannelDownload(store, key(name), await sizeOf(name), channel, extras);

    it("bad channel ids: E_CHANNEL_INVALID", async () => {
      for (const channel of ["", "a/b", "a:b", "..", "tab\there", "x".repeat(65)]) {
        await rejectsWithCode(plan("v1v2v3.apk", channel, {}), "E_CHANNEL_INVALID");
      }
    });

    it("bad extras: E_EXTRA_INVALID", async () => {
      const bad: ChannelExtras[] = [
        { "": "x" },
        { channel: "other" },
        { "a=b": "c" },
        { k: "line\nbreak" },
        [
          ["ok", "1"],
          ["", "2"],
        ],
      ];
      for (const extras of bad) {
        await rejectsWithCode(plan("v1v2v3.apk", "huawei", extras), "E_EXTRA_INVALID");
      }
      // A v1-only mother has nowhere to keep extras, as with `channel put -e`.
      await rejectsWithCode(plan("v1only.apk", "huawei", { uid: "1" }), "E_EXTRA_INVALID");
    });

    it("an unsigned mother: E_UNSIGNED", async () => {
      await rejectsWithCode(plan("unsigned.apk", "huawei", {}), "E_UNSIGNED");
    });

    it("not an APK: E_NOT_ZIP, E_TRUNCATED, E_NO_MANIFEST", async () => {
      const put = async (name: string, bytes: Buffer): Promise<void> => {
        await store.putStream(key(name), Readable.from([bytes]));
      };
      await put("text.apk", Buffer.from("hello, not a zip\n".repeat(100)));
      await rejectsWithCode(plan("text.apk", "a", {}), "E_NOT_ZIP");
      await put("half.apk", (await readFile(fixture("v1v2v3.apk"))).subarray(0, 5000));
      await rejectsWithCode(plan("half.apk", "a", {}), "E_TRUNCATED");
      await put("plain.zip", zipWithoutManifest());
      await rejectsWithCode(plan("plain.zip", "a", {}), "E_NO_MANIFEST");
    });

    it("a missing object or a wrong size", async () => {
      await rejectsWithCode(
        planChannelDownload(store, "mothers/absent.apk", 10, "a", {}),
        "E_NOT_FOUND",
      );
      await rejectsWithCode(
        planChannelDownload(store, key("v1v2v3.apk"), 1234, "a", {}),
        "E_INTERNAL",
      );
    });
  });
});

describe(
  "channel downloads of a large mother",
  { skip: skipUnlessTool("apksigner", "aapt", "zipalign") },
  () => {
    const MB = 100;
    const KEY = "mothers/big.apk";
    let dir: string;
    let store: BlobStore;
    let mother: string;
    let size: number;

    before(async () => {
      dir = await tempDir("gamedock-channel-stream-big-");
      mother = await buildSignedApk(join(dir, `mother-${MB}m.apk`), MB);
      store = await openBlobStore({ driver: "fs", root: join(dir, "blobs") });
      size = (await store.putFile(KEY, mother)).size;
    });
    after(async () => {
      await store.close();
      await removeDir(dir);
    });

    it("parses with a few small gets and streams the mother once, in little memory", async (t) => {
      const counted = counting(store);
      const extras = { uid: "1", 来源: "测试" };
      const { plan } = await planChannelDownload(counted.store, KEY, size, "华为", extras);
      assert.ok(counted.gets.length <= 3, `${counted.gets.length} gets to parse`);
      assert.ok(counted.requested() < 256 * 1024, `${counted.requested()} bytes read to parse`);

      const parseGets = counted.gets.length;
      const parseBytes = counted.requested();
      counted.reset();
      const hash = createHash("sha256");
      // What the stream keeps alive, not garbage a busy machine has not collected
      // yet: collect before the baseline and before every sample.
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      gc();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      let streamed = 0;
      let chunks = 0;
      for await (const chunk of childStream(counted.store, KEY, plan) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        streamed += chunk.length;
        if (++chunks % 8 === 0) {
          gc();
          peak = Math.max(peak, process.memoryUsage().rss);
        }
      }
      const growth = peak - baseline;
      t.diagnostic(`parse: ${parseGets} gets, ${parseBytes} bytes; rss growth ${growth} bytes`);
      assert.equal(streamed, plan.size);
      assert.deepEqual(counted.gets, [{ start: 0, end: plan.keepBytes - 1 }]);
      // Buffering the mother would grow by its size; streaming costs a few chunks.
      assert.ok(growth < size / 4, `rss grew ${growth} bytes streaming a ${size}-byte mother`);

      const out = join(dir, "cli-child.apk");
      const args = ["channel", "put", mother, "华为", "-o", out, "--format", "walle"];
      const cli = await runCli([...args, "-e", "uid=1", "-e", "来源=测试"]);
      assert.equal(cli.code, 0, cli.stderr);
      const expected = createHash("sha256");
      for await (const chunk of createReadStream(out) as AsyncIterable<Buffer>) {
        expected.update(chunk);
      }
      assert.equal(hash.digest("hex"), expected.digest("hex"));
    });

    it("destroying the stream mid-way closes the read of the mother", async () => {
      const counted = counting(store);
      const { plan } = await planChannelDownload(counted.store, KEY, size, "oppo", {});
      counted.reset();
      const stream = childStream(counted.store, KEY, plan);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        assert.ok(chunk.length > 0);
        break; // leaving the loop destroys the stream
      }
      assert.equal(counted.bodies.length, 1);
      const body = counted.bodies[0]!;
      if (!body.closed) await new Promise((resolve) => body.once("close", resolve));
      assert.ok(body.destroyed, "the mother's read stream is destroyed");
    });
  },
);
