/**
 * What a child APK is, as bytes: the mother's first `keepBytes` bytes followed
 * by `tail`. Pure and small (the tail is the signing block, the central
 * directory and the EOCD), so the same plan can be written to disk with a
 * kernel copy or streamed over HTTP without touching the mother's entries.
 */
import { GamedockError } from "../core/errors.js";
import type { ApkLayout } from "./apk-file.js";
import {
  META_INF_CHANNEL_PREFIX,
  decodeV1Comment,
  encodeV1Comment,
  encodeWalle,
  type BlockFormat,
  type ChannelFormatName,
  type V1Style,
} from "./channel-format.js";
import { PAIR_ID, makePair, serializeSigningBlock, type SigningPair } from "./signing-block.js";
import { MAX_COMMENT, serializeEmptyStoredEntry, serializeEocd } from "./zip-records.js";

export interface ChannelSpec {
  channel: string;
  extras: Record<string, string>;
  /** Used when the APK has a signing block (v2/v3 signed). */
  format: BlockFormat;
  /** Used when it has none (v1-only or unsigned). */
  v1Style: V1Style;
}

export interface ChildPlan {
  keepBytes: number;
  tail: Buffer;
  size: number;
  format: ChannelFormatName;
}

export function isSigned(layout: ApkLayout): boolean {
  const ids = new Set(layout.signingBlock?.pairs.map((p) => p.id) ?? []);
  return (
    layout.hasV1Signature || ids.has(PAIR_ID.v2) || ids.has(PAIR_ID.v3) || ids.has(PAIR_ID.v31)
  );
}

function channelPairs(spec: ChannelSpec): SigningPair[] {
  const pairs: SigningPair[] = [];
  if (spec.format === "walle" || spec.format === "both") {
    pairs.push(makePair(PAIR_ID.walle, encodeWalle(spec.channel, spec.extras)));
  }
  if (spec.format === "vasdolly" || spec.format === "both") {
    pairs.push(makePair(PAIR_ID.vasdolly, Buffer.from(spec.channel, "utf8")));
  }
  return pairs;
}

function planSigningBlock(layout: ApkLayout, spec: ChannelSpec): ChildPlan {
  const block = layout.signingBlock!;
  // Every pair that is not a channel stays byte-identical and in order.
  const kept = block.pairs.filter((p) => p.id !== PAIR_ID.walle && p.id !== PAIR_ID.vasdolly);
  const hadPadding = block.pairs.some((p) => p.id === PAIR_ID.verityPadding);
  const newBlock = serializeSigningBlock([...kept, ...channelPairs(spec)], hadPadding);
  const cdOffset = block.offset + newBlock.length;
  const eocd = serializeEocd({
    entryCount: layout.eocd.entryCount,
    cdSize: layout.eocd.cdSize,
    cdOffset,
    comment: layout.eocd.comment,
  });
  const tail = Buffer.concat([newBlock, layout.centralDirectory, eocd]);
  return { keepBytes: block.offset, tail, size: block.offset + tail.length, format: spec.format };
}

function planComment(layout: ApkLayout, spec: ChannelSpec): ChildPlan {
  const { base } = decodeV1Comment(layout.eocd.comment);
  const comment = encodeV1Comment(base, spec.channel);
  if (comment.length > MAX_COMMENT) {
    throw new GamedockError("E_CHANNEL_INVALID", "the zip comment would exceed 65535 bytes");
  }
  const eocd = serializeEocd({
    entryCount: layout.eocd.entryCount,
    cdSize: layout.eocd.cdSize,
    cdOffset: layout.eocd.cdOffset,
    comment,
  });
  const tail = Buffer.concat([layout.centralDirectory, eocd]);
  return {
    keepBytes: layout.eocd.cdOffset,
    tail,
    size: layout.eocd.cdOffset + tail.length,
    format: "v1-comment",
  };
}

function planMetaInf(layout: ApkLayout, spec: ChannelSpec): ChildPlan {
  // JAR signing skips META-INF/, so a new empty entry there keeps v1 valid.
  const entryOffset = layout.eocd.cdOffset;
  const { local, central } = serializeEmptyStoredEntry(
    META_INF_CHANNEL_PREFIX + spec.channel,
    entryOffset,
  );
  const kept = layout.entries.filter((e) => !e.name.startsWith(META_INF_CHANNEL_PREFIX));
  const cd = Buffer.concat([...kept.map((e) => e.raw), central]);
  if (kept.length + 1 > 0xffff) {
    throw new GamedockError("E_ZIP64", "adding a channel entry would need zip64 (65535 entries)");
  }
  const eocd = serializeEocd({
    entryCount: kept.length + 1,
    cdSize: cd.length,
    cdOffset: entryOffset + local.length,
    comment: decodeV1Comment(layout.eocd.comment).base,
  });
  const tail = Buffer.concat([local, cd, eocd]);
  return { keepBytes: entryOffset, tail, size: entryOffset + tail.length, format: "meta-inf" };
}

/**
 * Plans the child for one channel. A signing block gets block pairs (v2/v3
 * cover the zip comment, so only the block may change); without a block the
 * v1-safe style is used.
 */
export function planChild(layout: ApkLayout, spec: ChannelSpec): ChildPlan {
  if (Object.keys(spec.extras).length > 0) {
    if (!layout.signingBlock) {
      throw new GamedockError(
        "E_EXTRA_INVALID",
        `extras for channel ${JSON.stringify(spec.channel)} need the Walle format, but ${layout.path} has no APK Signing Block (v1-only), so only the channel id can be stored`,
        { channel: spec.channel },
      );
    }
    if (spec.format === "vasdolly") {
      throw new GamedockError(
        "E_EXTRA_INVALID",
        `extras for channel ${JSON.stringify(spec.channel)} cannot be stored in the VasDolly format; use --format walle or both`,
        { channel: spec.channel },
      );
    }
  }
  const plan = layout.signingBlock
    ? planSigningBlock(layout, spec)
    : spec.v1Style === "meta-inf"
      ? planMetaInf(layout, spec)
      : planComment(layout, spec);
  if (plan.size > 0xffffffff) {
    throw new GamedockError("E_ZIP64", "the child APK would exceed 4 GiB, which needs zip64");
  }
  return plan;
}
