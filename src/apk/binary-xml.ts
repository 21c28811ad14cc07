/**
 * Android binary XML (AXML), the compiled form of AndroidManifest.xml: a
 * RES_XML_TYPE chunk holding a string pool, a resource map (string index ->
 * attribute resource id) and a flat list of tree-node chunks, turned here into a
 * small element tree. Attribute names may be blanked or scrambled by obfuscators
 * while Android itself only looks at resource ids, so lookups go by id first.
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

const CODE = "E_BAD_MANIFEST";
const RES_XML_TYPE = 0x0003;
const RES_XML_RESOURCE_MAP_TYPE = 0x0180;
const RES_XML_START_NAMESPACE_TYPE = 0x0100;
const RES_XML_START_ELEMENT_TYPE = 0x0102;
const RES_XML_END_ELEMENT_TYPE = 0x0103;
const RES_XML_CDATA_TYPE = 0x0104;
/** ResXMLTree_node: chunk header + lineNumber + comment. */
const NODE_HEADER_SIZE = 16;
const ATTRIBUTE_SIZE = 20;

/** Res_value data types (ResourceTypes.h). */
export const TYPE = {
  NULL: 0x00,
  REFERENCE: 0x01,
  ATTRIBUTE: 0x02,
  STRING: 0x03,
  FLOAT: 0x04,
  DIMENSION: 0x05,
  FRACTION: 0x06,
  DYNAMIC_REFERENCE: 0x07,
  INT_DEC: 0x10,
  INT_HEX: 0x11,
  INT_BOOLEAN: 0x12,
} as const;

/** Framework attribute ids (android.R.attr) the manifest reader needs. */
export const ANDROID_ATTR = {
  label: 0x01010001,
  name: 0x01010003,
  // Note the order: versionCode is 0x0101021b, versionName 0x0101021c (public.xml).
  versionCode: 0x0101021b,
  versionName: 0x0101021c,
  minSdkVersion: 0x0101020c,
  targetSdkVersion: 0x01010270,
} as const;

const NAME_BY_ID = new Map<number, string>(Object.entries(ANDROID_ATTR).map(([k, v]) => [v, k]));

/** A typed Res_value; `data` is kept as the raw unsigned 32-bit word. */
export interface TypedValue {
  dataType: number;
  data: number;
}

export interface XmlAttribute {
  namespace: string | null;
  /** The name string, or the framework name for a known resource id when the string is blank. */
  name: string;
  resourceId: number | undefined;
  rawValue: string | null;
  value: TypedValue;
}

export interface XmlElement {
  namespace: string | null;
  name: string;
  line: number;
  /** Offset of the start-element chunk, for error messages. */
  offset: number;
  attributes: XmlAttribute[];
  children: XmlElement[];
  /** CDATA text directly inside this element, concatenated. */
  text: string;
}

export interface XmlDocument {
  root: XmlElement;
  strings: StringPool;
  resourceIds: number[];
}

/** Parses a whole AXML document. Unknown chunk types are skipped, as Android does. */
export function parseBinaryXml(buf: Buffer): XmlDocument {
  const doc = readChunk(buf, 0, buf.length, CODE);
  if (doc.type !== RES_XML_TYPE) {
    throw resError(
      CODE,
      `not binary XML: chunk type 0x${doc.type.toString(16)}, expected 0x0003`,
      0,
    );
  }
  let strings: StringPool | undefined;
  let resourceIds: number[] = [];
  let root: XmlElement | undefined;
  const open: XmlElement[] = [];

  for (let at = doc.offset + doc.headerSize; at < doc.end;) {
    const chunk = readChunk(buf, at, doc.end, CODE);
    at = chunk.end;
    if (chunk.type === RES_STRING_POOL_TYPE) {
      strings ??= readStringPool(buf, chunk.offset, doc.end, CODE);
      continue;
    }
    if (chunk.type === RES_XML_RESOURCE_MAP_TYPE) {
      resourceIds = readResourceMap(buf, chunk.offset + chunk.headerSize, chunk.end);
      continue;
    }
    if (chunk.type < RES_XML_START_NAMESPACE_TYPE || chunk.type > RES_XML_CDATA_TYPE) continue;
    if (chunk.headerSize < NODE_HEADER_SIZE) {
      throw resError(
        CODE,
        `XML node header is ${chunk.headerSize} bytes, expected ${NODE_HEADER_SIZE}`,
        chunk.offset,
      );
    }
    if (!strings) throw resError(CODE, "XML node before the string pool", chunk.offset);
    const line = buf.readUInt32LE(chunk.offset + 8);
    const ext = chunk.offset + chunk.headerSize;
    switch (chunk.type) {
      case RES_XML_START_ELEMENT_TYPE: {
        const element = readStartElement(buf, chunk, line, strings, resourceIds);
        const parent = open.at(-1);
        if (parent) parent.children.push(element);
        else root ??= element;
        open.push(element);
        break;
      }
      case RES_XML_END_ELEMENT_TYPE:
        need(CODE, ext, 8, chunk.end, "end element");
        if (!open.pop()) throw resError(CODE, "end element without a start element", chunk.offset);
        break;
      case RES_XML_CDATA_TYPE: {
        need(CODE, ext, 4 + 8, chunk.end, "CDATA");
        const parent = open.at(-1);
        if (parent) parent.text += strings.get(buf.readUInt32LE(ext)) ?? "";
        break;
      }
      default:
        // Namespace start (0x0100) and end (0x0101): prefixes only matter for printing XML, not for reading values.
        need(CODE, ext, 8, chunk.end, "namespace");
    }
  }
  if (!root) throw resError(CODE, "document has no root element", doc.end);
  if (!strings) throw resError(CODE, "document has no string pool", doc.end);
  return { root, strings, resourceIds };
}

function nameForId(resourceId: number | undefined): string {
  return (resourceId === undefined ? undefined : NAME_BY_ID.get(resourceId)) ?? "";
}

function readResourceMap(buf: Buffer, start: number, end: number): number[] {
  const ids: number[] = [];
  for (let at = start; at + 4 <= end; at += 4) ids.push(buf.readUInt32LE(at));
  return ids;
}

function readStartElement(
  buf: Buffer,
  chunk: Chunk,
  line: number,
  strings: StringPool,
  resourceIds: number[],
): XmlElement {
  const ext = chunk.offset + chunk.headerSize;
  const { end } = chunk;
  // ResXMLTree_attrExt: ns, name, attributeStart, attributeSize, attributeCount, id/class/style index.
  need(CODE, ext, 20, end, "start element");
  const name = strings.get(buf.readUInt32LE(ext + 4));
  if (name === undefined) throw resError(CODE, "element name is not a valid string index", ext + 4);
  const attributeStart = buf.readUInt16LE(ext + 8);
  const attributeSize = buf.readUInt16LE(ext + 10);
  const attributeCount = buf.readUInt16LE(ext + 12);
  if (attributeCount > 0 && attributeSize < ATTRIBUTE_SIZE) {
    throw resError(CODE, `attribute size ${attributeSize} is below ${ATTRIBUTE_SIZE}`, ext + 10);
  }
  need(
    CODE,
    ext + attributeStart,
    attributeSize * attributeCount,
    end,
    `${attributeCount} attributes of <${name}>`,
  );
  const attributes: XmlAttribute[] = [];
  for (let i = 0; i < attributeCount; i++) {
    const at = ext + attributeStart + i * attributeSize;
    const nameIndex = buf.readUInt32LE(at + 4);
    const resourceId = resourceIds[nameIndex];
    const nameString = strings.get(nameIndex) ?? "";
    // Res_value: size u16, res0 u8, dataType u8, data u32.
    const value = { dataType: buf.readUInt8(at + 15), data: buf.readUInt32LE(at + 16) };
    // Shrinkers may drop the raw string of a typed string; its data is the same pool index.
    const rawValue =
      strings.get(buf.readUInt32LE(at + 8)) ??
      (value.dataType === TYPE.STRING ? strings.get(value.data) : undefined);
    attributes.push({
      namespace: strings.get(buf.readUInt32LE(at)) ?? null,
      name: nameString !== "" ? nameString : nameForId(resourceId),
      resourceId,
      rawValue: rawValue ?? null,
      value,
    });
  }
  return {
    namespace: strings.get(buf.readUInt32LE(ext)) ?? null,
    name,
    line,
    offset: chunk.offset,
    attributes,
    children: [],
    text: "",
  };
}

/**
 * Finds an attribute by framework resource id, falling back to its name (for
 * attributes without an id such as `package`, or files without a resource map).
 */
export function findAttribute(
  element: XmlElement,
  resourceId: number | undefined,
  name: string,
): XmlAttribute | undefined {
  if (resourceId !== undefined) {
    const byId = element.attributes.find((a) => a.resourceId === resourceId);
    if (byId) return byId;
  }
  return element.attributes.find(
    (a) => a.name === name && (resourceId === undefined || a.resourceId === undefined),
  );
}

/** The first direct child named `name` (obfuscators leave element names alone: Android matches them). */
export function findChild(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}
