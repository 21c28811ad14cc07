/**
 * The APK Signing Block (source.android.com/docs/security/features/apksigning/v2):
 *
 *   u64 sizeOfBlock (counts everything after this field)
 *   repeated: u64 pairLength, u32 id, value[pairLength - 4]
 *   u64 sizeOfBlock (same value)
 *   16 bytes magic "APK Sig Block 42"
 *
 * v2/v3 signatures cover the zip entries, the central directory and the EOCD but
 * not this block, so pairs may be added as long as every signed pair stays
 * byte-identical. We keep each pair's original bytes and re-emit them untouched.
 */
import { GamedockError } from "../core/index.js";

export const SIGNING_BLOCK_MAGIC = Buffer.from("APK Sig Block 42", "ascii");
/** Footer = u64 size + magic. */
export const SIGNING_BLOCK_FOOTER_SIZE = 24;
/** Smallest block: two u64 sizes + magic, no pairs. */
const MIN_BLOCK_SIZE = 32;
/** Blocks larger than this are refused rather than read into memory. */
export const MAX_SIGNING_BLOCK_SIZE = 64 * 1024 * 1024;

export const PAIR_ID = {
  v2: 0x7109871a,
  v3: 0xf05368c0,
  v31: 0x1b93ad61,
  verityPadding: 0x42726577,
  walle: 0x71777777,
  vasdolly: 0x881155ff,
} as const;

export interface SigningPair {
  id: number;
  /** The full pair bytes (length prefix, id and value), exactly as found. */
  raw: Buffer;
}

export interface SigningBlock {
  /** File offset of the block's first byte (its leading size field). */
  offset: number;
  /** Total bytes of the block, footer included. */
  size: number;
  pairs: SigningPair[];
}

export function pairValue(pair: SigningPair): Buffer {
  return pair.raw.subarray(12);
}

/**
 * Reads the u64 size and magic that end the block from the 24 bytes before the
 * central directory. Returns the block's total size, or null when there is no block.
 */
export function blockSizeFromFooter(footer: Buffer, cdOffset: number): number | null {
  if (footer.length !== SIGNING_BLOCK_FOOTER_SIZE) return null;
  if (!footer.subarray(8).equals(SIGNING_BLOCK_MAGIC)) return null;
  const sizeOfBlock = footer.readBigUInt64LE(0);
  const total = sizeOfBlock + 8n;
  if (sizeOfBlock < BigInt(MIN_BLOCK_SIZE - 8) || total > BigInt(cdOffset)) {
    throw new GamedockError(
      "E_BAD_SIGNING_BLOCK",
      `APK Signing Block announces ${sizeOfBlock} bytes, which does not fit before the central directory at ${cdOffset}`,
    );
  }
  if (total > BigInt(MAX_SIGNING_BLOCK_SIZE)) {
    throw new GamedockError(
      "E_BAD_SIGNING_BLOCK",
      `APK Signing Block of ${total} bytes is larger than the ${MAX_SIGNING_BLOCK_SIZE}-byte limit`,
    );
  }
  return Number(total);
}

/** Parses a whole block (`bytes` starts at the leading size field). */
export function parseSigningBlock(bytes: Buffer, offset: number): SigningBlock {
  const size = bytes.length;
  const leading = bytes.readBigUInt64LE(0);
  const trailing = bytes.readBigUInt64LE(size - SIGNING_BLOCK_FOOTER_SIZE);
  if (leading !== trailing) {
    throw new GamedockError(
      "E_BAD_SIGNING_BLOCK",
      `APK Signing Block sizes disagree (${leading} at the start, ${trailing} at the end)`,
    );
  }
  const pairs: SigningPair[] = [];
  const pairsEnd = size - SIGNING_BLOCK_FOOTER_SIZE;
  let pos = 8;
  while (pos < pairsEnd) {
    if (pos + 12 > pairsEnd) {
      throw new GamedockError("E_BAD_SIGNING_BLOCK", `APK Signing Block pair at ${pos} is cut off`);
    }
    const length = bytes.readBigUInt64LE(pos);
    if (length < 4n || length > BigInt(pairsEnd - pos - 8)) {
      throw new GamedockError(
        "E_BAD_SIGNING_BLOCK",
        `APK Signing Block pair at ${pos} has an impossible length ${length}`,
      );
    }
    const end = pos + 8 + Number(length);
    pairs.push({ id: bytes.readUInt32LE(pos + 8), raw: Buffer.from(bytes.subarray(pos, end)) });
    pos = end;
  }
  return { offset, size, pairs };
}

export function makePair(id: number, value: Buffer): SigningPair {
  const raw = Buffer.alloc(12 + value.length);
  raw.writeBigUInt64LE(BigInt(4 + value.length), 0);
  raw.writeUInt32LE(id, 8);
  value.copy(raw, 12);
  return { id, raw };
}

/**
 * Serialises pairs into a block. With `padTo4096`, a verity padding pair is
 * appended (as apksig does) so the block's total size is a multiple of 4096:
 * Android 9+ rejects a block that lost its alignment.
 */
export function serializeSigningBlock(pairs: SigningPair[], padTo4096: boolean): Buffer {
  const kept = pairs.filter((p) => p.id !== PAIR_ID.verityPadding);
  let pairBytes = kept.reduce((n, p) => n + p.raw.length, 0);
  const all = [...kept];
  if (padTo4096) {
    const unpadded = 8 + pairBytes + SIGNING_BLOCK_FOOTER_SIZE;
    if (unpadded % 4096 !== 0) {
      let padding = 4096 - (unpadded % 4096);
      // A pair needs 12 bytes of header; when that does not fit, pad one more page.
      if (padding < 12) padding += 4096;
      all.push(makePair(PAIR_ID.verityPadding, Buffer.alloc(padding - 12)));
      pairBytes += padding;
    }
  }
  const total = 8 + pairBytes + SIGNING_BLOCK_FOOTER_SIZE;
  const out = Buffer.alloc(total);
  const sizeOfBlock = BigInt(total - 8);
  out.writeBigUInt64LE(sizeOfBlock, 0);
  let pos = 8;
  for (const pair of all) {
    pair.raw.copy(out, pos);
    pos += pair.raw.length;
  }
  out.writeBigUInt64LE(sizeOfBlock, pos);
  SIGNING_BLOCK_MAGIC.copy(out, pos + 8);
  return out;
}

/** Which signature schemes the block carries. */
export function schemesInBlock(block: SigningBlock | null): {
  v2: boolean;
  v3: boolean;
  v31: boolean;
} {
  const ids = new Set(block?.pairs.map((p) => p.id) ?? []);
  return { v2: ids.has(PAIR_ID.v2), v3: ids.has(PAIR_ID.v3), v31: ids.has(PAIR_ID.v31) };
}
