/**
 * resources.arsc reader, just enough to resolve the manifest's references
 * (`@string/app_name`, `@integer/min_sdk`). The chunk tree is walked once to index
 * type chunks by (package, type); entries are read only when asked for, because a
 * game's table may hold tens of thousands of them across dozens of configurations.
 */
import {
  need,
  readChunk,
  readStringPool,
  resError,
  RES_STRING_POOL_TYPE,
  type Chunk,
  type StringPool,
} from "./string-pool.js";
import { TYPE, type TypedValue } from "./binary-xml.js";

const CODE = "E_BAD_RESOURCES";
const RES_TABLE_TYPE = 0x0002;
const RES_TABLE_PACKAGE_TYPE = 0x0200;
const RES_TABLE_TYPE_TYPE = 0x0201;
/** ResTable_package up to and including lastPublicKey; typeIdOffset came later. */
const PACKAGE_HEADER_MIN = 284;
/** ResTable_type before its ResTable_config: chunk header, id, flags, reserved, entryCount, entriesStart. */
const TYPE_HEADER_FIXED = 20;
const TYPE_FLAG_SPARSE = 0x01;
const TYPE_FLAG_OFFSET16 = 0x02;
const ENTRY_FLAG_COMPLEX = 0x0001;
const ENTRY_FLAG_COMPACT = 0x0008;
const MAX_REFERENCE_DEPTH = 8;

interface Package {
  id: number;
  typeIdOffset: number;
  typeNames: StringPool | undefined;
  keyNames: StringPool | undefined;
}

interface TypeChunk {
  chunk: Chunk;
  pkg: Package;
  flags: number;
  entryCount: number;
  /** Absolute offset of the entry index array and of the entry data. */
  indexStart: number;
  entriesStart: number;
  /** True when every ResTable_config field after `size` is zero. */
  isDefault: boolean;
}

/** One entry's value, or null for a complex (bag) entry such as an array or style. */
interface Entry {
  key: number;
  value: TypedValue | null;
}

export class ResourceTable {
  readonly values: StringPool;
  /** Type chunks keyed by `pkgId << 8 | typeId`, default configuration first. */
  private readonly types = new Map<number, TypeChunk[]>();

  constructor(private readonly buf: Buffer) {
    // packageCount (header bytes 8..12) is not needed: packages are found by walking the chunks.
    const table = readChunk(buf, 0, buf.length, CODE);
    if (table.type !== RES_TABLE_TYPE) {
      throw resError(
        CODE,
        `not a resource table: chunk type 0x${table.type.toString(16)}, expected 0x0002`,
        0,
      );
    }
    let values: StringPool | undefined;
    for (let at = table.offset + table.headerSize; at < table.end;) {
      const chunk = readChunk(buf, at, table.end, CODE);
      at = chunk.end;
      if (chunk.type === RES_STRING_POOL_TYPE) {
        values ??= readStringPool(buf, chunk.offset, table.end, CODE);
      } else if (chunk.type === RES_TABLE_PACKAGE_TYPE) {
        this.indexPackage(chunk);
      }
    }
    if (!values) throw resError(CODE, "table has no global string pool", table.offset);
    this.values = values;
    // Stable sort: default configurations first, the others keep their file order.
    for (const list of this.types.values()) {
      list.sort((a, b) => Number(b.isDefault) - Number(a.isDefault));
    }
  }

  private indexPackage(chunk: Chunk): void {
    const { buf } = this;
    if (chunk.headerSize < PACKAGE_HEADER_MIN) {
      throw resError(
        CODE,
        `package header is ${chunk.headerSize} bytes, expected ${PACKAGE_HEADER_MIN}`,
        chunk.offset,
      );
    }
    const pool = (field: number): StringPool | undefined => {
      const rel = buf.readUInt32LE(chunk.offset + field);
      return rel === 0 ? undefined : readStringPool(buf, chunk.offset + rel, chunk.end, CODE);
    };
    const pkg: Package = {
      id: buf.readUInt32LE(chunk.offset + 8),
      typeIdOffset:
        chunk.headerSize >= PACKAGE_HEADER_MIN + 4 ? buf.readUInt32LE(chunk.offset + 284) : 0,
      typeNames: pool(268),
      keyNames: pool(276),
    };
    for (let at = chunk.offset + chunk.headerSize; at < chunk.end;) {
      const child = readChunk(buf, at, chunk.end, CODE);
      at = child.end;
      if (child.type === RES_TABLE_TYPE_TYPE) this.indexType(pkg, child);
    }
  }

  private indexType(pkg: Package, chunk: Chunk): void {
    const { buf } = this;
    if (chunk.headerSize < TYPE_HEADER_FIXED + 4) {
      throw resError(
        CODE,
        `type chunk header is ${chunk.headerSize} bytes, too small for a config`,
        chunk.offset,
      );
    }
    const typeId = buf.readUInt8(chunk.offset + 8);
    if (typeId === 0) throw resError(CODE, "type chunk with type id 0", chunk.offset);
    const flags = buf.readUInt8(chunk.offset + 9);
    const entryCount = buf.readUInt32LE(chunk.offset + 12);
    const entriesStart = chunk.offset + buf.readUInt32LE(chunk.offset + 16);
    // ResTable_config is size-prefixed and has grown over the years (28 to 64+ bytes).
    const configStart = chunk.offset + TYPE_HEADER_FIXED;
    const configSize = buf.readUInt32LE(configStart);
    need(
      CODE,
      configStart,
      Math.max(configSize, 4),
      chunk.offset + chunk.headerSize,
      "ResTable_config",
    );
    const isDefault = buf.subarray(configStart + 4, configStart + configSize).every((b) => b === 0);
    const indexStart = chunk.offset + chunk.headerSize;
    const indexWidth = flags & TYPE_FLAG_OFFSET16 && !(flags & TYPE_FLAG_SPARSE) ? 2 : 4;
    need(CODE, indexStart, entryCount * indexWidth, chunk.end, `offsets of ${entryCount} entries`);
    need(CODE, entriesStart, 0, chunk.end, "entries start");
    const key = ((pkg.id & 0xff) << 8) | typeId;
    const list = this.types.get(key) ?? [];
    list.push({ chunk, pkg, flags, entryCount, indexStart, entriesStart, isDefault });
    this.types.set(key, list);
  }

  /** Offset of entry `index` in `type` relative to entriesStart, or undefined when absent. */
  private entryOffset(type: TypeChunk, index: number): number | undefined {
    const { buf } = this;
    if (type.flags & TYPE_FLAG_SPARSE) {
      // Sorted {u16 index, u16 offset/4} pairs: binary search.
      let lo = 0;
      let hi = type.entryCount - 1;
      while (lo <= hi) {
        const mid = Math.floor((lo + hi) / 2);
        const at = type.indexStart + mid * 4;
        const idx = buf.readUInt16LE(at);
        if (idx === index) return buf.readUInt16LE(at + 2) * 4;
        if (idx < index) lo = mid + 1;
        else hi = mid - 1;
      }
      return undefined;
    }
    if (index >= type.entryCount) return undefined;
    if (type.flags & TYPE_FLAG_OFFSET16) {
      const rel = buf.readUInt16LE(type.indexStart + index * 2);
      return rel === 0xffff ? undefined : rel * 4;
    }
    const rel = buf.readUInt32LE(type.indexStart + index * 4);
    return rel === 0xffffffff ? undefined : rel;
  }

  private readEntry(type: TypeChunk, index: number): Entry | undefined {
    const rel = this.entryOffset(type, index);
    if (rel === undefined) return undefined;
    const { buf } = this;
    const at = type.entriesStart + rel;
    need(CODE, at, 8, type.chunk.end, `entry #${index}`);
    const flags = buf.readUInt16LE(at + 2);
    if (flags & ENTRY_FLAG_COMPACT) {
      // Compact entry: u16 key, u16 flags whose high byte is the data type, u32 data.
      return {
        key: buf.readUInt16LE(at),
        value: { dataType: flags >> 8, data: buf.readUInt32LE(at + 4) },
      };
    }
    const key = buf.readUInt32LE(at + 4);
    if (flags & ENTRY_FLAG_COMPLEX) return { key, value: null };
    const valueAt = at + buf.readUInt16LE(at);
    need(CODE, valueAt, 8, type.chunk.end, `value of entry #${index}`);
    return {
      key,
      value: { dataType: buf.readUInt8(valueAt + 3), data: buf.readUInt32LE(valueAt + 4) },
    };
  }

  /** The entry for `resId` in the default configuration, else in the first one that has it. */
  private lookup(resId: number): { type: TypeChunk; entry: Entry } | undefined {
    const types = this.types.get(resId >>> 16) ?? [];
    for (const type of types) {
      const entry = this.readEntry(type, resId & 0xffff);
      if (entry) return { type, entry };
    }
    return undefined;
  }

  /** The value of `resId` with references followed (a few levels), or undefined when absent or a bag. */
  resolveValue(resId: number): TypedValue | undefined {
    let id = resId;
    for (let depth = 0; depth <= MAX_REFERENCE_DEPTH; depth++) {
      const value = this.lookup(id)?.entry.value;
      if (!value) return undefined;
      const isReference =
        value.dataType === TYPE.REFERENCE || value.dataType === TYPE.DYNAMIC_REFERENCE;
      if (!isReference) return value;
      id = value.data;
    }
    return undefined;
  }

  /** The string `resId` refers to, following references; undefined when absent or not a string. */
  resolveString(resId: number): string | undefined {
    const value = this.resolveValue(resId);
    return value?.dataType === TYPE.STRING ? this.values.get(value.data) : undefined;
  }

  /** `type/key` of `resId` (as in `@string/app_name`), for messages and tests. */
  entryName(resId: number): string | undefined {
    const found = this.lookup(resId);
    if (!found) return undefined;
    const { pkg } = found.type;
    const typeName = pkg.typeNames?.get(((resId >>> 16) & 0xff) - 1 - pkg.typeIdOffset);
    const keyName = pkg.keyNames?.get(found.entry.key);
    return typeName === undefined || keyName === undefined ? undefined : `${typeName}/${keyName}`;
  }
}

/** Parses resources.arsc; throws GamedockError E_BAD_RESOURCES when it is malformed. */
export function parseResourceTable(buf: Buffer): ResourceTable {
  return new ResourceTable(buf);
}
