/**
 * `GET /api/v1/files/:id/apk`: `apk info` of a stored file — the JSON that
 * `gamedock apk info --json <file>` prints, from the same code
 * (apk's inspectApkSource). The APK is read where it is stored, through
 * ranged reads (channel-stream.ts's blobSource, on fs and s3 alike): only the
 * regions the parser asks for — end of central directory, central directory,
 * signing block, manifest, resources.arsc — and each of those is capped by
 * the APK engine, so memory does not grow with the file and nothing is
 * written to disk.
 */
import { inspectApkSource, type ApkInfo } from "../apk/index.js";
import { blobSource } from "./channel-stream.js";
import type { FilesContext } from "./context.js";
import { loadFile } from "./download.js";

/**
 * Errors are the CLI's: a stored file that is not a zip is 400 E_NOT_ZIP, a
 * zip without a manifest E_NO_MANIFEST, a damaged one E_TRUNCATED …; an
 * unknown, malformed or expired id 404 E_NOT_FOUND.
 */
export async function storedApkInfo(ctx: FilesContext, id: string): Promise<ApkInfo> {
  const file = await loadFile(ctx, id);
  const source = blobSource(ctx.store, file.blobKey, file.size);
  try {
    // The label, not a path, names the APK in error messages: answers never show server paths.
    return await inspectApkSource(source, `file ${file.id} (${JSON.stringify(file.name)})`);
  } finally {
    await source.close();
  }
}
