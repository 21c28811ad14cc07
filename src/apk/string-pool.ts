/**
 * Chunk headers and the ResStringPool, shared by binary XML (AndroidManifest.xml)
 * and resources.arsc. Both formats are trees of chunks `{u16 type, u16 headerSize,
 * u32 size}`; every read is bounds-checked so a hostile or truncated file gives a
 * GamedockError naming the offset, never a RangeError or an endless loop.
 */
import { GamedockError } from "../core/index.js";

/** Which file is being parsed decides the error code a malformed chunk reports. */
export type ResErrorCode = "E_BAD_MANIFEST" | "E_BAD_RESOURCES";

export const RES_STRING_POOL_TYPE = 0x0001;
const CHUNK_HEADER_SIZE = 8;
const STRING_POOL_HEADER_SIZE = 28;
const UTF8_FLAG = 0x100;
const NO_INDEX = 0xffffffff;

export interface Chunk {
  type: number;
  headerSize: number;
  size: number;
  /** Offset of the chunk's first byte. */
  offset: number;
  /** Offset just past the chunk: offset + size. */
  end: number;
}

export function resError(code: ResErrorCode, message: string, offset: number): GamedockError {
  const file = code === "E_BAD_MANIFEST" ? "AndroidManifest.xml" : "resources.arsc";
  return new GamedockError(code, `${file}: ${message} at offset ${offset}`, { offset });
}

/** Throws unless `length` bytes starting at `offset` lie inside [0, limit). */
export function need(
  code: ResErrorCode,
  offset: number,
  length: number,
  limit: number,
  what: string,
): void {
  if (offset < 0 || length < 0 || offset + length > limit) {
    throw resError(
      code,
      `${what} (${length} bytes) runs past the end of its container (${limit})`,
      offset,
    );
  }
}

/**
 * Reads and validates the chunk header at `offset`. A chunk must hold its own
 * header and fit inside `limit`; that also rules out size 0, which would make a
 * chunk walker spin on the same offset forever.
 */
export function readChunk(
  buf: Buffer,
  offset: number,
  limit: number,
  code: ResErrorCode,
  minHeaderSize = CHUNK_HEADER_SIZE,
): Chunk {
  need(code, offset, CHUNK_HEADER_SIZE, limit, "chunk header");
  const type = buf.readUInt16LE(offset);
  const headerSize = buf.readUInt16LE(offset + 2);
  const size = buf.readUInt32LE(offset + 4);
  const hex = `0x${type.toString(16).padStart(4, "0")}`;
  if (headerSize < minHeaderSize || headerSize > size) {
    throw resError(
      code,
      `chunk ${hex} has header size ${headerSize} for a chunk of ${size} bytes`,
      offset,
    );
  }
  if (offset + size > limit) {
    throw resError(
      code,
      `chunk ${hex} of ${size} bytes runs past the end of its container (${limit})`,
      offset,
    );
  }
  return { type, headerSize, size, offset, end: offset + size };
}

/** Strings of one pool, decoded on first use (an arsc pool may hold 100 000 of them). */
export class StringPool {
  readonly count: number;
  readonly isUtf8: boolean;
  private readonly cache = new Map<number, string>();

  constructor(
    private readonly buf: Buffer,
    private readonly chunk: Chunk,
    private readonly code: ResErrorCode,
  ) {
    const { offset, headerSize, end } = chunk;
    if (headerSize < STRING_POOL_HEADER_SIZE) {
      throw resError(
        code,
        `string pool header is ${headerSize} bytes, expected ${STRING_POOL_HEADER_SIZE}`,
        offset,
      );
    }
    this.count = buf.readUInt32LE(offset + 8);
    this.isUtf8 = (buf.readUInt32LE(offset + 16) & UTF8_FLAG) !== 0;
    // The offsets array follows the header; each entry is 4 bytes.
    need(code, offset + headerSize, this.count * 4, end, `offsets of ${this.count} strings`);
  }

  /** Start of string data; aapt writes 0 here for an empty pool. */
  private get stringsStart(): number {
    return this.chunk.offset + this.buf.readUInt32LE(this.chunk.offset + 20);
  }

  /** The string at `index`, or undefined for the "no string" index 0xFFFFFFFF and out-of-range indexes. */
  get(index: number): string | undefined {
    if (index === NO_INDEX || index < 0 || index >= this.count) return undefined;
    let value = this.cache.get(index);
    if (value === undefined) {
      value = this.decode(index);
      this.cache.set(index, value);
    }
    return value;
  }

  private decode(index: number): string {
    const { buf, chunk, code } = this;
    const at = this.stringsStart + buf.readUInt32LE(chunk.offset + chunk.headerSize + index * 4);
    const what = `string #${index}`;
    if (this.isUtf8) {
      // Two lengths precede the bytes: UTF-16 units (unused; often wrong in obfuscated
      // files) then UTF-8 bytes, each 1 byte or 2 when the high bit is set.
      const [, afterChars] = this.utf8Length(at, what);
      const [byteLength, start] = this.utf8Length(afterChars, what);
      need(code, start, byteLength, chunk.end, what);
      return decodeUtf8(buf.subarray(start, start + byteLength));
    }
    need(code, at, 2, chunk.end, `${what} length`);
    let units = buf.readUInt16LE(at);
    let start = at + 2;
    if (units & 0x8000) {
      need(code, start, 2, chunk.end, `${what} length`);
      units = ((units & 0x7fff) << 16) | buf.readUInt16LE(start);
      start += 2;
    }
    need(code, start, units * 2, chunk.end, what);
    return buf.toString("utf16le", start, start + units * 2);
  }

  private utf8Length(at: number, what: string): [number, number] {
    need(this.code, at, 1, this.chunk.end, `${what} length`);
    const first = this.buf.readUInt8(at);
    if ((first & 0x80) === 0) return [first, at + 1];
    need(this.code, at + 1, 1, this.chunk.end, `${what} length`);
    return [((first & 0x7f) << 8) | this.buf.readUInt8(at + 1), at + 2];
  }
}

/**
 * Old aapt wrote characters outside the BMP (emoji) as two 3-byte surrogates
 * (CESU-8) instead of one 4-byte sequence; Node's decoder turns those into U+FFFD,
 * so fall back to a decoder that joins the surrogates.
 */
function decodeUtf8(bytes: Buffer): string {
  const text = bytes.toString("utf8");
  if (!text.includes("\ufffd") || !hasCesuSurrogate(bytes)) return text;
  const units: number[] = [];
  for (let i = 0; i < bytes.length;) {
    const b0 = bytes[i] ?? 0;
    const b1 = bytes[i + 1] ?? 0;
    const b2 = bytes[i + 2] ?? 0;
    if ((b0 & 0xf0) === 0xe0 && i + 2 < bytes.length) {
      units.push(((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f));
      i += 3;
    } else if ((b0 & 0xe0) === 0xc0 && i + 1 < bytes.length) {
      units.push(((b0 & 0x1f) << 6) | (b1 & 0x3f));
      i += 2;
    } else if ((b0 & 0xf8) === 0xf0) {
      // A genuine 4-byte sequence mixed in: let the standard decoder handle it.
      units.push(...codeUnits(bytes.subarray(i, i + 4).toString("utf8")));
      i += 4;
    } else {
      units.push(b0 < 0x80 ? b0 : 0xfffd);
      i += 1;
    }
  }
  return String.fromCharCode(...units);
}

function hasCesuSurrogate(bytes: Buffer): boolean {
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xed && ((bytes[i + 1] ?? 0) & 0xe0) === 0xa0) return true;
  }
  return false;
}

function codeUnits(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
  return out;
}

/** Parses the string pool chunk at `offset` (inside `limit`). */
export function readStringPool(
  buf: Buffer,
  offset: number,
  limit: number,
  code: ResErrorCode,
): StringPool {
  const chunk = readChunk(buf, offset, limit, code);
  if (chunk.type !== RES_STRING_POOL_TYPE) {
    throw resError(
      code,
      `expected a string pool chunk (0x0001), found 0x${chunk.type.toString(16)}`,
      offset,
    );
  }
  return new StringPool(buf, chunk, code);
}
