/**
 * Writes channels into every signed fixture in every format and checks the
 * result with tools that are not ours: apksigner verifies the signatures, aapt
 * reads the manifest, and a few lines here read the block independently.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  inspectApk,
  openApk,
  planChannelRemoval,
  planChild,
  readApkLayout,
  writeChild,
  type BlockFormat,
  type ChannelSpec,
} from "../../src/apk/index.js";
import { fixture, listFiles, useTempDir } from "../helpers/cli.js";
import { aaptBadging, apksignerVerify, skipUnlessTool } from "../helpers/tools.js";

/** Writes `source` with the channel in `spec` to `out`, as `gamedock channel put` does. */
async function putChannel(source: string, spec: ChannelSpec, out: string): Promise<void> {
  await writeChild(source, planChild((await openApk(source)).layout, spec), out);
}

/** Independent reading of the APK Signing Block: id → value, straight from the bytes. */
function readBlockPairs(apk: Buffer): Map<number, Buffer> {
  const eocd = apk.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const cdOffset = apk.readUInt32LE(eocd + 16);
  assert.equal(apk.toString("latin1", cdOffset - 16, cdOffset), "APK Sig Block 42");
  const size = Number(apk.readBigUInt64LE(cdOffset - 24));
  const pairs = new Map<number, Buffer>();
  for (let pos = cdOffset - size - 8 + 8; pos < cdOffset - 24;) {
    const len = Number(apk.readBigUInt64LE(pos));
    pairs.set(apk.readUInt32LE(pos + 8), apk.subarray(pos + 12, pos + 8 + len));
    pos += 8 + len;
  }
  return pairs;
}

/** Independent reading of VasDolly's v1 zip-comment channel. */
function readCommentChannel(apk: Buffer): string | null {
  if (apk.toString("latin1", apk.length - 8) !== "ltlovezh") return null;
  const len = apk.readUInt16LE(apk.length - 10);
  return apk.toString("utf8", apk.length - 10 - len, apk.length - 10);
}

const SIGNED_WITH_BLOCK = [
  "v1v2v3.apk",
  "v1v2v3-nopad.apk",
  "v2only.apk",
  "v3rotated.apk",
  "chinese-aapt2.apk",
];
const FORMATS: BlockFormat[] = ["walle", "vasdolly", "both"];
const toolSkip = skipUnlessTool("apksigner") || skipUnlessTool("aapt");

describe("writing channels", { skip: toolSkip }, () => {
  let dir = "";
  useTempDir((d) => (dir = d));

  for (const name of SIGNED_WITH_BLOCK) {
    for (const format of FORMATS) {
      it(`${name} in ${format} format keeps every signature and the manifest`, async () => {
        const mother = fixture(name);
        const out = join(dir, `${name}-${format}.apk`);
        const channel = "华为-应用市场";
        // VasDolly stores the bare channel; extras need Walle's JSON.
        const extras: Record<string, string> =
          format === "vasdolly" ? {} : { region: "cn", 备注: "测试" };
        await putChannel(mother, { channel, extras, format, v1Style: "comment" }, out);

        const [before, afterVerify] = await Promise.all([
          apksignerVerify(mother),
          apksignerVerify(out),
        ]);
        assert.ok(afterVerify.ok, afterVerify.output);
        assert.deepEqual(
          { v1: afterVerify.v1, v2: afterVerify.v2, v3: afterVerify.v3, v31: afterVerify.v31 },
          { v1: before.v1, v2: before.v2, v3: before.v3, v31: before.v31 },
        );
        assert.deepEqual(await aaptBadging(out), await aaptBadging(mother));

        const bytes = await readFile(out);
        const pairs = readBlockPairs(bytes);
        const motherPairs = readBlockPairs(await readFile(mother));
        for (const [id, value] of motherPairs) {
          if (id === 0x42726577) continue; // padding is regenerated
          assert.deepEqual(pairs.get(id), value, `pair 0x${id.toString(16)} changed`);
        }
        if (format !== "vasdolly") {
          const json = JSON.parse(pairs.get(0x71777777)!.toString("utf8")) as Record<
            string,
            string
          >;
          assert.deepEqual(json, { ...extras, channel });
        } else {
          assert.equal(pairs.has(0x71777777), false);
        }
        if (format !== "walle") {
          assert.equal(pairs.get(0x881155ff)?.toString("utf8"), channel);
        } else {
          assert.equal(pairs.has(0x881155ff), false);
        }
        if (motherPairs.has(0x42726577)) {
          const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
          const cdOffset = bytes.readUInt32LE(eocd + 16);
          const blockSize = Number(bytes.readBigUInt64LE(cdOffset - 24)) + 8;
          assert.equal(blockSize % 4096, 0, "padded block must stay 4096-aligned");
        }
        const info = await inspectApk(out);
        assert.deepEqual(info.channel, { channel, extras, format });
      });
    }
  }

  it("rewriting a child replaces its channel instead of stacking a second one", async () => {
    const first = join(dir, "first.apk");
    const second = join(dir, "second.apk");
    const mother = fixture("v1v2v3.apk");
    await putChannel(
      mother,
      {
        channel: "a",
        extras: { k: "1" },
        format: "both",
        v1Style: "comment",
      },
      first,
    );
    await putChannel(
      first,
      {
        channel: "b",
        extras: {},
        format: "walle",
        v1Style: "comment",
      },
      second,
    );
    const layout = await readApkLayout(second);
    assert.equal(layout.signingBlock?.pairs.filter((p) => p.id === 0x71777777).length, 1);
    assert.equal(
      layout.signingBlock?.pairs.some((p) => p.id === 0x881155ff),
      false,
    );
    assert.deepEqual((await inspectApk(second)).channel, {
      channel: "b",
      extras: {},
      format: "walle",
    });
    assert.ok((await apksignerVerify(second)).ok);
  });

  it("v1-only APKs get VasDolly's zip-comment channel, still v1-valid", async () => {
    const mother = fixture("v1only.apk");
    const out = join(dir, "v1-comment.apk");
    await putChannel(
      mother,
      {
        channel: "小米",
        extras: {},
        format: "walle",
        v1Style: "comment",
      },
      out,
    );
    const verify = await apksignerVerify(out);
    assert.ok(verify.ok && verify.v1, verify.output);
    assert.equal(readCommentChannel(await readFile(out)), "小米");
    assert.deepEqual((await inspectApk(out)).channel, {
      channel: "小米",
      extras: {},
      format: "v1-comment",
    });
    assert.deepEqual(await aaptBadging(out), await aaptBadging(mother));
  });

  it("switching v1 styles leaves exactly one channel", async () => {
    const mother = fixture("v1only.apk");
    const metaInf = join(dir, "switch-metainf.apk");
    const comment = join(dir, "switch-comment.apk");
    const spec = { extras: {}, format: "walle" } as const;
    await putChannel(mother, { ...spec, channel: "a", v1Style: "meta-inf" }, metaInf);
    await putChannel(metaInf, { ...spec, channel: "b", v1Style: "comment" }, comment);
    const layout = await readApkLayout(comment);
    assert.deepEqual(
      layout.entries.filter((e) => e.name.startsWith("META-INF/channel_")),
      [],
    );
    assert.equal(readCommentChannel(await readFile(comment)), "b");
    assert.ok((await apksignerVerify(comment)).ok);
  });

  it("a shorter channel over a longer one shrinks the file to the right size", async () => {
    const mother = fixture("v1only.apk");
    const long = join(dir, "v1-long.apk");
    const short = join(dir, "v1-short.apk");
    const spec = { extras: {}, format: "walle", v1Style: "comment" } as const;
    await putChannel(mother, { ...spec, channel: "渠道".repeat(30) }, long);
    const plan = planChild((await openApk(long)).layout, { ...spec, channel: "s" });
    await writeChild(long, plan, short);
    const bytes = await readFile(short);
    assert.equal(bytes.length, plan.size);
    assert.ok(bytes.length < (await readFile(long)).length);
    assert.equal(readCommentChannel(bytes), "s");
    assert.ok((await apksignerVerify(short)).ok);
  });

  it("v1-only APKs can carry the design note's META-INF/channel_<id> entry", async () => {
    const mother = fixture("v1only.apk");
    const out = join(dir, "v1-metainf.apk");
    const again = join(dir, "v1-metainf-again.apk");
    await putChannel(
      mother,
      {
        channel: "oppo",
        extras: {},
        format: "walle",
        v1Style: "meta-inf",
      },
      out,
    );
    await putChannel(
      out,
      {
        channel: "vivo",
        extras: {},
        format: "walle",
        v1Style: "meta-inf",
      },
      again,
    );
    for (const [file, channel] of [
      [out, "oppo"],
      [again, "vivo"],
    ] as const) {
      const verify = await apksignerVerify(file);
      assert.ok(verify.ok && verify.v1, verify.output);
      const names = (await readApkLayout(file)).entries.map((e) => e.name);
      assert.deepEqual(
        names.filter((n) => n.startsWith("META-INF/channel_")),
        [`META-INF/channel_${channel}`],
      );
      assert.deepEqual((await inspectApk(file)).channel, {
        channel,
        extras: {},
        format: "meta-inf",
      });
      assert.deepEqual(await aaptBadging(file), await aaptBadging(mother));
    }
  });

  it("both copiers (GNU cp and fs.copyFile) write identical, valid children", async () => {
    const mother = fixture("v3rotated.apk");
    const plan = planChild((await openApk(mother)).layout, {
      channel: "copier",
      extras: {},
      format: "both",
      v1Style: "comment",
    });
    const outputs: Buffer[] = [];
    for (const copier of ["cp", "node"]) {
      const out = join(dir, `copier-${copier}.apk`);
      process.env.GAMEDOCK_COPIER = copier;
      try {
        await writeChild(mother, plan, out);
      } finally {
        delete process.env.GAMEDOCK_COPIER;
      }
      assert.ok((await apksignerVerify(out)).ok);
      outputs.push(await readFile(out));
    }
    assert.ok(outputs[0]!.equals(outputs[1]!));
  });

  it("plans for many channels share the mother's central directory", async () => {
    const { layout } = await openApk(fixture("v1v2v3.apk"));
    const plans = ["a", "b", "c"].map((channel) =>
      planChild(layout, { channel, extras: {}, format: "walle", v1Style: "comment" }),
    );
    for (const plan of plans) assert.equal(plan.tail[1], layout.centralDirectory);
  });

  it("a child is the mother's bytes up to the block, then a new tail", async () => {
    const mother = fixture("v1v2v3.apk");
    const out = join(dir, "prefix.apk");
    const { layout } = await openApk(mother);
    await writeChild(
      mother,
      planChild(layout, { channel: "x", extras: {}, format: "walle", v1Style: "comment" }),
      out,
    );
    const [m, c] = await Promise.all([readFile(mother), readFile(out)]);
    const keep = layout.signingBlock!.offset;
    assert.ok(c.subarray(0, keep).equals(m.subarray(0, keep)));
    assert.deepEqual(
      (await listFiles(dir)).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });
});

describe("removing channels", { skip: toolSkip }, () => {
  let dir = "";
  useTempDir((d) => (dir = d));

  const cases: [string, BlockFormat, "comment" | "meta-inf"][] = [
    ["v1v2v3.apk", "both", "comment"],
    ["v1v2v3-nopad.apk", "walle", "comment"],
    ["v3rotated.apk", "vasdolly", "comment"],
    ["v1only.apk", "walle", "comment"],
  ];
  for (const [name, format, v1Style] of cases) {
    it(`${name}: removing the channel gives back the mother byte for byte`, async () => {
      const mother = fixture(name);
      const child = join(dir, `${name}-child.apk`);
      const bare = join(dir, `${name}-bare.apk`);
      const spec = { channel: "华为", extras: {}, format, v1Style };
      await putChannel(mother, spec, child);
      await writeChild(child, planChannelRemoval(await readApkLayout(child)), bare);
      assert.ok((await readFile(bare)).equals(await readFile(mother)));
      assert.equal((await inspectApk(bare)).channel, null);
    });
  }

  it("a META-INF channel entry is dropped from the central directory", async () => {
    const mother = fixture("v1only.apk");
    const child = join(dir, "metainf-child.apk");
    const bare = join(dir, "metainf-bare.apk");
    const spec = { channel: "oppo", extras: {}, format: "walle", v1Style: "meta-inf" } as const;
    await putChannel(mother, spec, child);
    await writeChild(child, planChannelRemoval(await readApkLayout(child)), bare);
    assert.equal((await inspectApk(bare)).channel, null);
    const verify = await apksignerVerify(bare);
    assert.ok(verify.ok && verify.v1, verify.output);
  });
});
