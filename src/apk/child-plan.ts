/**
 * What a child APK is, as bytes: the mother's first `keepBytes` bytes followed
 * by `tail`. Pure and small (the tail is the signing block, the central
 * directory and the EOCD), so the same plan can be written to disk with a
 * kernel copy or streamed over HTTP without touching the mother's entries.
 */
import { GamedockError } from "../core/index.js";
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
import {
  PAIR_ID,
  makePair,
  schemesInBlock,
  serializeSigningBlock,
  type SigningPair,
} from "./signing-block.js";
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
  /**
   * The new tail in pieces. The central directory piece is shared by every
   * plan of one mother (a big game's is megabytes), so many plans cost little.
   */
  tail: Buffer[];
  tailLength: number;
  size: number;
  /** Where the channel went; null for a plan that removes it. */
  format: ChannelFormatName | null;
}

function makePlan(keepBytes: number, tail: Buffer[], format: ChannelFormatName | null): ChildPlan {
  const tailLength = tail.reduce((n, b) => n + b.length, 0);
  return { keepBytes, tail, tailLength, size: keepBytes + tailLength, format };
}

/** The central directory without META-INF/channel_* entries, computed once per mother. */
const withoutChannelEntries = new WeakMap<ApkLayout, { cd: Buffer; count: number }>();

function centralDirectoryWithoutChannels(layout: ApkLayout): { cd: Buffer; count: number } {
  let cached = withoutChannelEntries.get(layout);
  if (!cached) {
    const kept = layout.entries.filter((e) => !e.name.startsWith(META_INF_CHANNEL_PREFIX));
    cached =
      kept.length === layout.entries.length
        ? { cd: layout.centralDirectory, count: kept.length }
        : { cd: Buffer.concat(kept.map((e) => e.raw)), count: kept.length };
    withoutChannelEntries.set(layout, cached);
  }
  return cached;
}

/** Refuses an APK without any signature unless the caller allows it (`--allow-unsigned`). */
export function requireSigned(layout: ApkLayout, allowUnsigned: boolean): void {
  const signed =
    layout.hasV1Signature || Object.values(schemesInBlock(layout.signingBlock)).some(Boolean);
  if (!signed && !allowUnsigned) {
    throw new GamedockError(
      "E_UNSIGNED",
      `${layout.path} is not signed (no v1, v2 or v3 signature); sign it first, or pass --allow-unsigned`,
      { path: layout.path },
    );
  }
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

/** Rebuilds the block with our channel pairs replaced by `added` (none: removed). */
function planSigningBlock(
  layout: ApkLayout,
  added: SigningPair[],
  format: ChannelFormatName | null,
): ChildPlan {
  const block = layout.signingBlock!;
  // Every pair that is not a channel stays byte-identical and in order.
  const kept = block.pairs.filter((p) => p.id !== PAIR_ID.walle && p.id !== PAIR_ID.vasdolly);
  const hadPadding = block.pairs.some((p) => p.id === PAIR_ID.verityPadding);
  const newBlock = serializeSigningBlock([...kept, ...added], hadPadding);
  const cdOffset = block.offset + newBlock.length;
  const eocd = serializeEocd({
    entryCount: layout.eocd.entryCount,
    cdSize: layout.eocd.cdSize,
    cdOffset,
    comment: layout.eocd.comment,
  });
  return makePlan(block.offset, [newBlock, layout.centralDirectory, eocd], format);
}

/** The APK without any channel gamedock can write, everything else unchanged. */
export function planChannelRemoval(layout: ApkLayout): ChildPlan {
  if (layout.signingBlock) return planSigningBlock(layout, [], null);
  const { cd, count } = centralDirectoryWithoutChannels(layout);
  const eocd = serializeEocd({
    entryCount: count,
    cdSize: cd.length,
    cdOffset: layout.eocd.cdOffset,
    comment: decodeV1Comment(layout.eocd.comment).base,
  });
  return makePlan(layout.eocd.cdOffset, [cd, eocd], null);
}

function planComment(layout: ApkLayout, spec: ChannelSpec): ChildPlan {
  const { base } = decodeV1Comment(layout.eocd.comment);
  const comment = encodeV1Comment(base, spec.channel);
  if (comment.length > MAX_COMMENT) {
    throw new GamedockError(
      "E_CHANNEL_INVALID",
      `${layout.path} already has a ${base.length}-byte zip comment; with channel ${JSON.stringify(spec.channel)} it would exceed 65535 bytes`,
    );
  }
  // A META-INF channel entry from an earlier style goes, so only one channel remains.
  const { cd, count } = centralDirectoryWithoutChannels(layout);
  const eocd = serializeEocd({
    entryCount: count,
    cdSize: cd.length,
    cdOffset: layout.eocd.cdOffset,
    comment,
  });
  return makePlan(layout.eocd.cdOffset, [cd, eocd], "v1-comment");
}

function planMetaInf(layout: ApkLayout, spec: ChannelSpec): ChildPlan {
  // JAR signing skips META-INF/, so a new empty entry there keeps v1 valid.
  const entryOffset = layout.eocd.cdOffset;
  const { local, central } = serializeEmptyStoredEntry(
    META_INF_CHANNEL_PREFIX + spec.channel,
    entryOffset,
  );
  const { cd, count } = centralDirectoryWithoutChannels(layout);
  if (count + 1 > 0xffff) {
    throw new GamedockError("E_ZIP64", "adding a channel entry would need zip64 (65535 entries)");
  }
  const eocd = serializeEocd({
    entryCount: count + 1,
    cdSize: cd.length + central.length,
    cdOffset: entryOffset + local.length,
    comment: decodeV1Comment(layout.eocd.comment).base,
  });
  return makePlan(entryOffset, [local, cd, central, eocd], "meta-inf");
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
    ? planSigningBlock(layout, channelPairs(spec), spec.format)
    : spec.v1Style === "meta-inf"
      ? planMetaInf(layout, spec)
      : planComment(layout, spec);
  if (plan.size > 0xffffffff) {
    throw new GamedockError("E_ZIP64", "the child APK would exceed 4 GiB, which needs zip64");
  }
  return plan;
}
