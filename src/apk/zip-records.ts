/**
 * Fixed-layout zip records (PKWARE APPNOTE 4.3): the End Of Central Directory
 * record and central-directory file headers. Parsing and serialising only;
 * file access lives in apk-file.ts.
 */
import { GamedockError } from "../core/index.js";

export const EOCD_SIGNATURE = 0x06054b50;
export const EOCD_MIN_SIZE = 22;
export const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
export const ZIP64_LOCATOR_SIZE = 20;
export const CD_HEADER_SIGNATURE = 0x02014b50;
export const CD_HEADER_MIN_SIZE = 46;
export const LOCAL_HEADER_SIGNATURE = 0x04034b50;
export const LOCAL_HEADER_MIN_SIZE = 30;
export const MAX_COMMENT = 0xffff;

export interface Eocd {
  /** Offset of the EOCD record in the file. */
  offset: number;
  entryCount: number;
  cdSize: number;
  cdOffset: number;
  comment: Buffer;
}

export interface CentralEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** The whole central-directory record, kept byte-exact for rewriting. */
  raw: Buffer;
}

/** Parses the EOCD at `at` inside `tail`; `tailStart` is the file offset of `tail[0]`. */
export function parseEocd(tail: Buffer, at: number, tailStart: number): Eocd {
  const diskNumber = tail.readUInt16LE(at + 4);
  const cdDisk = tail.readUInt16LE(at + 6);
  const entriesOnDisk = tail.readUInt16LE(at + 8);
  const entryCount = tail.readUInt16LE(at + 10);
  const cdSize = tail.readUInt32LE(at + 12);
  const cdOffset = tail.readUInt32LE(at + 16);
  const commentLength = tail.readUInt16LE(at + 20);
  if (diskNumber !== 0 || cdDisk !== 0 || entriesOnDisk !== entryCount) {
    throw new GamedockError("E_NOT_ZIP", "multi-disk (split) zip archives are not supported");
  }
  return {
    offset: tailStart + at,
    entryCount,
    cdSize,
    cdOffset,
    comment: Buffer.from(tail.subarray(at + EOCD_MIN_SIZE, at + EOCD_MIN_SIZE + commentLength)),
  };
}

/** True when the EOCD uses the 0xFFFF / 0xFFFFFFFF markers that defer to zip64 records. */
export function eocdNeedsZip64(eocd: Eocd): boolean {
  return eocd.entryCount === 0xffff || eocd.cdSize === 0xffffffff || eocd.cdOffset === 0xffffffff;
}

export function serializeEocd(fields: {
  entryCount: number;
  cdSize: number;
  cdOffset: number;
  comment: Buffer;
}): Buffer {
  const out = Buffer.alloc(EOCD_MIN_SIZE + fields.comment.length);
  out.writeUInt32LE(EOCD_SIGNATURE, 0);
  out.writeUInt16LE(0, 4);
  out.writeUInt16LE(0, 6);
  out.writeUInt16LE(fields.entryCount, 8);
  out.writeUInt16LE(fields.entryCount, 10);
  out.writeUInt32LE(fields.cdSize, 12);
  out.writeUInt32LE(fields.cdOffset, 16);
  out.writeUInt16LE(fields.comment.length, 20);
  fields.comment.copy(out, EOCD_MIN_SIZE);
  return out;
}

/** Parses every central-directory record; `cd` is exactly the central directory. */
export function parseCentralDirectory(cd: Buffer, expectedCount: number): CentralEntry[] {
  const entries: CentralEntry[] = [];
  let pos = 0;
  while (pos < cd.length) {
    if (pos + CD_HEADER_MIN_SIZE > cd.length || cd.readUInt32LE(pos) !== CD_HEADER_SIGNATURE) {
      throw new GamedockError(
        "E_TRUNCATED",
        `central directory is corrupt at byte ${pos} of ${cd.length}`,
      );
    }
    const flags = cd.readUInt16LE(pos + 8);
    const nameLength = cd.readUInt16LE(pos + 28);
    const extraLength = cd.readUInt16LE(pos + 30);
    const commentLength = cd.readUInt16LE(pos + 32);
    const end = pos + CD_HEADER_MIN_SIZE + nameLength + extraLength + commentLength;
    if (end > cd.length) {
      throw new GamedockError("E_TRUNCATED", `central directory record at byte ${pos} is cut off`);
    }
    const nameBytes = cd.subarray(pos + CD_HEADER_MIN_SIZE, pos + CD_HEADER_MIN_SIZE + nameLength);
    // Bit 11 says UTF-8; APK tooling writes UTF-8 names either way.
    const name = nameBytes.toString((flags & 0x0800) !== 0 ? "utf8" : "latin1");
    const entry: CentralEntry = {
      name,
      method: cd.readUInt16LE(pos + 10),
      crc32: cd.readUInt32LE(pos + 16),
      compressedSize: cd.readUInt32LE(pos + 20),
      uncompressedSize: cd.readUInt32LE(pos + 24),
      localHeaderOffset: cd.readUInt32LE(pos + 42),
      raw: cd.subarray(pos, end),
    };
    if (
      entry.compressedSize === 0xffffffff ||
      entry.uncompressedSize === 0xffffffff ||
      entry.localHeaderOffset === 0xffffffff
    ) {
      throw new GamedockError("E_ZIP64", `entry ${name} uses zip64 sizes; zip64 is not supported`);
    }
    entries.push(entry);
    pos = end;
  }
  if (entries.length !== expectedCount) {
    throw new GamedockError(
      "E_TRUNCATED",
      `central directory holds ${entries.length} entries but the EOCD announces ${expectedCount}`,
    );
  }
  return entries;
}

/** A central-directory record for a new stored, empty entry (used for META-INF channel files). */
export function serializeEmptyStoredEntry(
  name: string,
  localHeaderOffset: number,
): {
  local: Buffer;
  central: Buffer;
} {
  const nameBytes = Buffer.from(name, "utf8");
  const local = Buffer.alloc(LOCAL_HEADER_MIN_SIZE + nameBytes.length);
  local.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
  local.writeUInt16LE(10, 4); // version needed: 1.0
  local.writeUInt16LE(0x0800, 6); // UTF-8 name
  local.writeUInt16LE(0, 8); // stored
  local.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00 in DOS time
  // crc32, sizes are all zero for an empty file
  local.writeUInt16LE(nameBytes.length, 26);
  nameBytes.copy(local, LOCAL_HEADER_MIN_SIZE);

  const central = Buffer.alloc(CD_HEADER_MIN_SIZE + nameBytes.length);
  central.writeUInt32LE(CD_HEADER_SIGNATURE, 0);
  central.writeUInt16LE(10, 4); // version made by
  central.writeUInt16LE(10, 6); // version needed
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt16LE(0, 10);
  central.writeUInt32LE(0x00210000, 12);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt32LE(localHeaderOffset, 42);
  nameBytes.copy(central, CD_HEADER_MIN_SIZE);
  return { local, central };
}
