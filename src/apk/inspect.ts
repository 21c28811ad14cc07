/**
 * `apk info`: everything a user wants to know about one APK, read from the
 * manifest, resources.arsc, the signing block and the channel formats.
 */
import { GamedockError } from "../core/index.js";
import {
  EXTRACT_LIMITS,
  extractEntry,
  findEntry,
  openApkHandle,
  readLayout,
  type ApkLayout,
} from "./apk-file.js";
import { readChannel, type ChannelInfo } from "./channel-format.js";
import { readManifestInfoLazily, type ManifestInfo } from "./manifest.js";
import type { ByteReader, RandomAccessSource } from "./range-source.js";
import { schemesInBlock } from "./signing-block.js";

export interface SignatureSchemes {
  v1: boolean;
  v2: boolean;
  v3: boolean;
  v31: boolean;
}

export interface ApkInfo extends ManifestInfo {
  size: number;
  signatures: SignatureSchemes;
  channel: ChannelInfo | null;
}

export function signatureSchemes(layout: ApkLayout): SignatureSchemes {
  return { v1: layout.hasV1Signature, ...schemesInBlock(layout.signingBlock) };
}

export async function readManifestFrom(
  handle: ByteReader,
  layout: ApkLayout,
): Promise<ManifestInfo> {
  const manifest = findEntry(layout, "AndroidManifest.xml");
  if (!manifest) {
    throw new GamedockError(
      "E_NO_MANIFEST",
      `${layout.path} has no AndroidManifest.xml entry: it is a zip file but not an APK`,
      { path: layout.path },
    );
  }
  const resources = findEntry(layout, "resources.arsc");
  const manifestXml = await extractEntry(handle, manifest, EXTRACT_LIMITS["AndroidManifest.xml"]);
  return readManifestInfoLazily(manifestXml, async () =>
    resources ? extractEntry(handle, resources, EXTRACT_LIMITS["resources.arsc"]) : undefined,
  );
}

/** Opens an APK once and returns its layout and manifest facts. */
export async function openApk(
  path: string,
): Promise<{ layout: ApkLayout; manifest: ManifestInfo }> {
  const { handle, size } = await openApkHandle(path);
  try {
    const layout = await readLayout(handle, size, path);
    return { layout, manifest: await readManifestFrom(handle, layout) };
  } finally {
    await handle.close();
  }
}

/**
 * openApk for any source (an object in a BlobStore, ...); `label` names it in
 * error messages and becomes the layout's `path`. The caller keeps the source
 * open: it may hold cached reads worth reusing, and closing it is the caller's.
 */
export async function openApkFromSource(
  source: RandomAccessSource,
  label: string,
): Promise<{ layout: ApkLayout; manifest: ManifestInfo }> {
  const layout = await readLayout(source, source.size, label);
  return { layout, manifest: await readManifestFrom(source, layout) };
}

function apkInfo({ layout, manifest }: { layout: ApkLayout; manifest: ManifestInfo }): ApkInfo {
  return {
    ...manifest,
    size: layout.size,
    signatures: signatureSchemes(layout),
    channel: readChannel(layout),
  };
}

/** `apk info` of a local file: what `gamedock apk info --json` prints. */
export async function inspectApk(path: string): Promise<ApkInfo> {
  return apkInfo(await openApk(path));
}

/**
 * inspectApk for any source (a stored file read by ranges: GET
 * /api/v1/files/:id/apk), the same facts; `label` names it in error messages.
 * The caller keeps and closes the source.
 */
export async function inspectApkSource(
  source: RandomAccessSource,
  label: string,
): Promise<ApkInfo> {
  return apkInfo(await openApkFromSource(source, label));
}
