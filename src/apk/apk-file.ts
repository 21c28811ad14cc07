/**
 * Opens an APK and maps its structure: EOCD, central directory, APK Signing
 * Block. Reads only the tail of the file and the central directory — never the
 * entries' data — so a 2 GB APK costs a few reads of a few hundred KB. Reads go
 * through a ByteReader, so the APK may be a local file or a stored object.
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { promisify } from "node:util";
import { crc32, inflateRaw } from "node:zlib";
import { GamedockError, fsError } from "../core/index.js";
import type { ByteReader } from "./range-source.js";
import {
  EOCD_MIN_SIZE,
  EOCD_SIGNATURE,
  LOCAL_HEADER_MIN_SIZE,
  LOCAL_HEADER_SIGNATURE,
  MAX_COMMENT,
  ZIP64_LOCATOR_SIGNATURE,
  ZIP64_LOCATOR_SIZE,
  eocdNeedsZip64,
  parseCentralDirectory,
  parseEocd,
  type CentralEntry,
  type Eocd,
} from "./zip-records.js";
import {
  SIGNING_BLOCK_FOOTER_SIZE,
  blockSizeFromFooter,
  parseSigningBlock,
  type SigningBlock,
} from "./signing-block.js";

export interface ApkLayout {
  path: string;
  size: number;
  eocd: Eocd;
  entries: CentralEntry[];
  /** The central directory bytes, verbatim. */
  centralDirectory: Buffer;
  signingBlock: SigningBlock | null;
  /** Where the zip entries end: the signing block's offset, or the central directory's. */
  contentEnd: number;
  /** A JAR signature is present: META-INF/*.SF with its MANIFEST.MF. */
  hasV1Signature: boolean;
}

/**
 * The most bytes an entry may inflate to when it is read into memory. Real
 * manifests are a few KB to a few hundred KB, real resources.arsc files up to
 * tens of MB; the caps leave room for that and no more, so a small APK
 * cannot make a server hold (and parse) hundreds of MB per request.
 */
export const EXTRACT_LIMITS = {
  "AndroidManifest.xml": 16 * 1024 * 1024,
  "resources.arsc": 128 * 1024 * 1024,
} as const;

const inflateRawAsync = promisify(inflateRaw);

const mib = (bytes: number): string => `${bytes / (1024 * 1024)} MiB`;

async function readAt(handle: ByteReader, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  if (done !== length) {
    throw new GamedockError("E_TRUNCATED", `file ended after ${position + done} bytes`);
  }
  return buf;
}

/** Opens `path` for reading with errors that say what is wrong with the APK path. */
export async function openApkHandle(path: string): Promise<{ handle: FileHandle; size: number }> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw fsError(err, path, "APK");
  }
  if (!info.isFile()) {
    throw new GamedockError("E_NOT_A_FILE", `APK path is not a regular file: ${path}`, { path });
  }
  try {
    return { handle: await open(path, "r"), size: info.size };
  } catch (err) {
    throw fsError(err, path, "APK");
  }
}

function locateEocd(tail: Buffer, tailStart: number, fileSize: number): Eocd | null {
  for (let at = tail.length - EOCD_MIN_SIZE; at >= 0; at--) {
    if (tail.readUInt32LE(at) !== EOCD_SIGNATURE) continue;
    const commentLength = tail.readUInt16LE(at + 20);
    if (tailStart + at + EOCD_MIN_SIZE + commentLength === fileSize) {
      return parseEocd(tail, at, tailStart);
    }
  }
  return null;
}

async function startsLikeZip(handle: ByteReader, size: number): Promise<boolean> {
  if (size < 4) return false;
  const head = await readAt(handle, 0, 4);
  return head.readUInt32LE(0) === LOCAL_HEADER_SIGNATURE;
}

/** Reads the structure of an already-open APK (a FileHandle, or any other ByteReader). */
export async function readLayout(
  handle: ByteReader,
  size: number,
  path: string,
): Promise<ApkLayout> {
  const tailLength = Math.min(size, EOCD_MIN_SIZE + MAX_COMMENT);
  const tailStart = size - tailLength;
  const tail = await readAt(handle, tailStart, tailLength);
  const eocd = tailLength >= EOCD_MIN_SIZE ? locateEocd(tail, tailStart, size) : null;
  if (!eocd) {
    if (await startsLikeZip(handle, size)) {
      throw new GamedockError(
        "E_TRUNCATED",
        `${path} starts like a zip but has no end-of-central-directory record: the file is truncated (re-download or re-copy it)`,
        { path },
      );
    }
    throw new GamedockError("E_NOT_ZIP", `${path} is not a zip archive (an APK is a zip file)`, {
      path,
    });
  }
  const locatorAt = eocd.offset - ZIP64_LOCATOR_SIZE;
  if (
    eocdNeedsZip64(eocd) ||
    (locatorAt >= 0 &&
      (await readAt(handle, locatorAt, 4)).readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE)
  ) {
    throw new GamedockError("E_ZIP64", `${path} is a zip64 archive; zip64 APKs are not supported`, {
      path,
    });
  }
  if (eocd.cdOffset + eocd.cdSize !== eocd.offset) {
    throw new GamedockError(
      "E_TRUNCATED",
      `${path} is corrupt: its central directory (offset ${eocd.cdOffset}, ${eocd.cdSize} bytes) does not end where the EOCD starts (${eocd.offset})`,
      { path },
    );
  }
  const centralDirectory = await readAt(handle, eocd.cdOffset, eocd.cdSize);
  const entries = parseCentralDirectory(centralDirectory, eocd.entryCount);

  let signingBlock: SigningBlock | null = null;
  if (eocd.cdOffset >= SIGNING_BLOCK_FOOTER_SIZE + 8) {
    const footer = await readAt(
      handle,
      eocd.cdOffset - SIGNING_BLOCK_FOOTER_SIZE,
      SIGNING_BLOCK_FOOTER_SIZE,
    );
    const blockSize = blockSizeFromFooter(footer, eocd.cdOffset);
    if (blockSize !== null) {
      const offset = eocd.cdOffset - blockSize;
      signingBlock = parseSigningBlock(await readAt(handle, offset, blockSize), offset);
    }
  }
  const contentEnd = signingBlock ? signingBlock.offset : eocd.cdOffset;
  for (const entry of entries) {
    if (entry.localHeaderOffset >= contentEnd) {
      throw new GamedockError(
        "E_TRUNCATED",
        `${path} is corrupt: entry ${entry.name} starts at ${entry.localHeaderOffset}, past the end of the entries (${contentEnd})`,
        { path },
      );
    }
  }
  const names = new Set(entries.map((e) => e.name));
  const hasV1Signature =
    names.has("META-INF/MANIFEST.MF") && entries.some((e) => /^META-INF\/[^/]+\.SF$/i.test(e.name));
  return {
    path,
    size,
    eocd,
    entries,
    centralDirectory,
    signingBlock,
    contentEnd,
    hasV1Signature,
  };
}

/** Opens, maps and closes an APK. */
export async function readApkLayout(path: string): Promise<ApkLayout> {
  const { handle, size } = await openApkHandle(path);
  try {
    return await readLayout(handle, size, path);
  } finally {
    await handle.close();
  }
}

export function findEntry(layout: ApkLayout, name: string): CentralEntry | undefined {
  return layout.entries.find((e) => e.name === name);
}

/**
 * Extracts the manifest or resources.arsc into memory, checking its size and
 * CRC. Inflation runs on libuv's thread pool, not the event loop (a server
 * answering other requests meanwhile), and stops at the size the entry
 * declares: a zip bomb that claims little and inflates to much fails there.
 */
export async function extractEntry(
  handle: ByteReader,
  entry: CentralEntry,
  limit: number,
): Promise<Buffer> {
  if (entry.uncompressedSize > limit || entry.compressedSize > limit) {
    throw new GamedockError(
      "E_ZIP_ENTRY",
      `entry ${entry.name} declares ${Math.max(entry.uncompressedSize, entry.compressedSize)} bytes, over the ${mib(limit)} gamedock reads for it (real ones are far smaller): the APK is damaged or built to exhaust memory`,
      { entry: entry.name, limit },
    );
  }
  const header = await readAt(handle, entry.localHeaderOffset, LOCAL_HEADER_MIN_SIZE);
  if (header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
    throw new GamedockError(
      "E_ZIP_ENTRY",
      `entry ${entry.name}: no local file header at offset ${entry.localHeaderOffset}`,
    );
  }
  const dataStart =
    entry.localHeaderOffset +
    LOCAL_HEADER_MIN_SIZE +
    header.readUInt16LE(26) +
    header.readUInt16LE(28);
  const compressed = await readAt(handle, dataStart, entry.compressedSize);
  let data: Buffer;
  if (entry.method === 0) {
    data = compressed;
  } else if (entry.method === 8) {
    try {
      data = await inflateRawAsync(compressed, {
        maxOutputLength: Math.max(1, entry.uncompressedSize),
      });
    } catch (err) {
      const tooLong = (err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new GamedockError(
        "E_ZIP_ENTRY",
        tooLong
          ? `entry ${entry.name} inflates to more than the ${entry.uncompressedSize} bytes it declares: the APK is damaged or built to exhaust memory`
          : `entry ${entry.name} cannot be inflated: ${(err as Error).message}`,
        { entry: entry.name },
      );
    }
  } else {
    throw new GamedockError(
      "E_ZIP_ENTRY",
      `entry ${entry.name} uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`,
    );
  }
  if (data.length !== entry.uncompressedSize || crc32(data) !== entry.crc32) {
    throw new GamedockError("E_ZIP_ENTRY", `entry ${entry.name} fails its size or CRC-32 check`);
  }
  return data;
}
