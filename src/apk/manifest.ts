/**
 * The facts of an APK's manifest that naming and `apk info` need, read the way
 * `aapt dump badging` reads them: attributes are found by framework resource id,
 * and references (`@string/app_name`) are resolved through resources.arsc in its
 * default configuration.
 */
import {
  ANDROID_ATTR,
  findAttribute,
  findChild,
  parseBinaryXml,
  TYPE,
  type XmlAttribute,
  type XmlElement,
} from "./binary-xml.js";
import { parseResourceTable, type ResourceTable } from "./resources-arsc.js";
import { resError } from "./string-pool.js";

export interface ManifestInfo {
  package: string;
  versionCode: number;
  versionName: string | null;
  minSdk: number;
  targetSdk: number;
  label: string | null;
}

/**
 * Android's Build.VERSION_CODES.CUR_DEVELOPMENT: what the platform uses for an SDK
 * given as a preview codename (`minSdkVersion="Tiramisu"`).
 */
const CODENAME_SDK = 10000;

/** Value of an attribute after following references: a string, a number, or nothing usable. */
type Resolved = string | number | undefined;

/** Reads the manifest facts; `resourcesArsc` is needed only when they are references. */
export function readManifestInfo(
  manifestXml: Buffer,
  resourcesArsc: Buffer | undefined,
): ManifestInfo {
  return infoFromRoot(manifestRoot(manifestXml), resourcesArsc);
}

/**
 * The same, parsing the manifest once and asking for resources.arsc (which can
 * be tens of MB) only when some attribute points into it.
 */
export async function readManifestInfoLazily(
  manifestXml: Buffer,
  loadResources: () => Promise<Buffer | undefined>,
): Promise<ManifestInfo> {
  const root = manifestRoot(manifestXml);
  const needsTable = Object.values(usedAttributes(root)).some(
    (a) => a?.value.dataType === TYPE.REFERENCE || a?.value.dataType === TYPE.DYNAMIC_REFERENCE,
  );
  return infoFromRoot(root, needsTable ? await loadResources() : undefined);
}

function manifestRoot(manifestXml: Buffer): XmlElement {
  const { root } = parseBinaryXml(manifestXml);
  if (root.name !== "manifest") {
    throw resError(
      "E_BAD_MANIFEST",
      `root element is <${root.name}>, expected <manifest>`,
      root.offset,
    );
  }
  return root;
}

/** The attributes ManifestInfo is made of, found by resource id. */
function usedAttributes(
  root: XmlElement,
): Record<
  "versionCode" | "versionName" | "minSdk" | "targetSdk" | "label",
  XmlAttribute | undefined
> {
  const usesSdk = findChild(root, "uses-sdk");
  const application = findChild(root, "application");
  return {
    versionCode: attr(root, "versionCode"),
    versionName: attr(root, "versionName"),
    minSdk: usesSdk && attr(usesSdk, "minSdkVersion"),
    targetSdk: usesSdk && attr(usesSdk, "targetSdkVersion"),
    label: application && attr(application, "label"),
  };
}

function infoFromRoot(root: XmlElement, resourcesArsc: Buffer | undefined): ManifestInfo {
  // The table is parsed only if some attribute is a reference: most manifests need it for the label only.
  let table: ResourceTable | undefined;
  const resolve = (attribute: XmlAttribute | undefined): Resolved => {
    if (!attribute) return undefined;
    return resolveAttribute(attribute, () => {
      if (!resourcesArsc) return undefined;
      table ??= parseResourceTable(resourcesArsc);
      return table;
    });
  };

  const packageName = findAttribute(root, undefined, "package")?.rawValue;
  if (!packageName) {
    throw resError("E_BAD_MANIFEST", "<manifest> has no package attribute", root.offset);
  }
  const used = usedAttributes(root);
  const minSdk = sdkLevel(resolve(used.minSdk));
  const targetSdk = sdkLevel(resolve(used.targetSdk));
  return {
    package: packageName,
    versionCode: toInteger(resolve(used.versionCode)) ?? 0,
    versionName: toText(resolve(used.versionName)),
    minSdk: minSdk ?? 1,
    // aapt (and the platform) treat a missing targetSdkVersion as equal to minSdkVersion.
    targetSdk: targetSdk ?? minSdk ?? 1,
    label: toText(resolve(used.label)),
  };
}

function attr(element: XmlElement, name: keyof typeof ANDROID_ATTR): XmlAttribute | undefined {
  return findAttribute(element, ANDROID_ATTR[name], name);
}

function resolveAttribute(
  attribute: XmlAttribute,
  table: () => ResourceTable | undefined,
): Resolved {
  const { dataType, data } = attribute.value;
  switch (dataType) {
    case TYPE.REFERENCE:
    case TYPE.DYNAMIC_REFERENCE: {
      const resources = table();
      const value = resources?.resolveValue(data);
      if (!resources || !value) return undefined;
      if (value.dataType === TYPE.STRING) return resources.values.get(value.data);
      return isInteger(value.dataType) ? data32(value.data) : undefined;
    }
    case TYPE.INT_DEC:
    case TYPE.INT_HEX:
    case TYPE.INT_BOOLEAN:
      return data32(data);
    default:
      // TYPE_STRING, and attributes whose typed value was dropped: the raw string is the value.
      return attribute.rawValue ?? undefined;
  }
}

function isInteger(dataType: number): boolean {
  return dataType >= TYPE.INT_DEC && dataType <= 0x1f;
}

/** Res_value data is a signed 32-bit int for integer types; aapt prints it with %d. */
function data32(data: number): number {
  return data | 0;
}

function toText(value: Resolved): string | null {
  return value === undefined ? null : String(value);
}

function toInteger(value: Resolved): number | undefined {
  if (typeof value === "number") return value;
  if (value === undefined || !/^\s*([+-]?\d+|0x[0-9a-f]+)\s*$/i.test(value)) return undefined;
  return Number(value.trim()) | 0;
}

/** An SDK level: a number, a numeric string, or a preview codename. */
function sdkLevel(value: Resolved): number | undefined {
  if (value === undefined || value === "") return undefined;
  return toInteger(value) ?? CODENAME_SDK;
}
