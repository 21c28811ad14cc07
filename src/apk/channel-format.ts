/**
 * Channel encodings, read and write:
 *  - Walle (Meituan): signing-block pair 0x71777777, UTF-8 JSON {"channel": ..., ...extras}
 *  - VasDolly (Tencent): signing-block pair 0x881155ff, raw UTF-8 channel
 *  - VasDolly v1: appended to the zip comment as channel, u16 LE length, "ltlovezh"
 *  - META-INF/channel_<id>: an empty entry, the design note's original scheme
 * Both tools' Android runtime readers understand what we write.
 */
import { GamedockError } from "../core/index.js";
import { PAIR_ID, pairValue, type SigningBlock } from "./signing-block.js";
import type { CentralEntry } from "./zip-records.js";

export type BlockFormat = "walle" | "vasdolly" | "both";
export type V1Style = "comment" | "meta-inf";
export type ChannelFormatName = BlockFormat | "v1-comment" | "meta-inf";

export interface ChannelInfo {
  channel: string;
  extras: Record<string, string>;
  format: ChannelFormatName;
}

export const V1_COMMENT_MAGIC = Buffer.from("ltlovezh", "ascii");
export const META_INF_CHANNEL_PREFIX = "META-INF/channel_";

export function encodeWalle(channel: string, extras: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify({ ...extras, channel }), "utf8");
}

function decodeWalle(value: Buffer): { channel: string; extras: Record<string, string> } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const record = parsed as Record<string, unknown>;
  if (typeof record.channel !== "string") return null;
  const extras: Record<string, string> = {};
  for (const [key, v] of Object.entries(record)) {
    if (key !== "channel") extras[key] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return { channel: record.channel, extras };
}

/** The bytes VasDolly's v1 reader finds at the very end of the file. */
export function encodeV1Comment(baseComment: Buffer, channel: string): Buffer {
  const bytes = Buffer.from(channel, "utf8");
  const length = Buffer.alloc(2);
  length.writeUInt16LE(bytes.length, 0);
  return Buffer.concat([baseComment, bytes, length, V1_COMMENT_MAGIC]);
}

/** Splits a zip comment into the part before our channel and the channel, if any. */
export function decodeV1Comment(comment: Buffer): { base: Buffer; channel: string | null } {
  const magicAt = comment.length - V1_COMMENT_MAGIC.length;
  if (magicAt < 2 || !comment.subarray(magicAt).equals(V1_COMMENT_MAGIC)) {
    return { base: comment, channel: null };
  }
  const length = comment.readUInt16LE(magicAt - 2);
  const start = magicAt - 2 - length;
  if (length === 0 || start < 0) return { base: comment, channel: null };
  return {
    base: comment.subarray(0, start),
    channel: comment.subarray(start, magicAt - 2).toString("utf8"),
  };
}

function fromBlock(block: SigningBlock): ChannelInfo | null {
  const walle = block.pairs.find((p) => p.id === PAIR_ID.walle);
  const vasdolly = block.pairs.find((p) => p.id === PAIR_ID.vasdolly);
  const fromWalle = walle ? decodeWalle(pairValue(walle)) : null;
  if (walle && !fromWalle) {
    throw new GamedockError(
      "E_BAD_SIGNING_BLOCK",
      "the Walle channel pair (0x71777777) does not hold a JSON object with a string channel; rewrite it with `gamedock channel put` or drop it with `gamedock channel remove`",
    );
  }
  const vasdollyChannel = vasdolly ? pairValue(vasdolly).toString("utf8") : null;
  if (fromWalle) {
    const both = vasdollyChannel !== null && vasdollyChannel === fromWalle.channel;
    return { ...fromWalle, format: both ? "both" : "walle" };
  }
  if (vasdollyChannel !== null) return { channel: vasdollyChannel, extras: {}, format: "vasdolly" };
  return null;
}

/** Reads whichever channel an APK carries, looking where each format puts it. */
export function readChannel(layout: {
  signingBlock: SigningBlock | null;
  eocd: { comment: Buffer };
  entries: CentralEntry[];
}): ChannelInfo | null {
  if (layout.signingBlock) {
    const info = fromBlock(layout.signingBlock);
    if (info) return info;
  }
  const { channel } = decodeV1Comment(layout.eocd.comment);
  if (channel !== null) return { channel, extras: {}, format: "v1-comment" };
  const entry = layout.entries.find((e) => e.name.startsWith(META_INF_CHANNEL_PREFIX));
  if (entry) {
    return {
      channel: entry.name.slice(META_INF_CHANNEL_PREFIX.length),
      extras: {},
      format: "meta-inf",
    };
  }
  return null;
}
