/**
 * A stored file as a local path, for code that needs random access to a local
 * file (the packaging service packs a mother APK given by file id: its kernel
 * copy needs a path). The copy is cached by content (sha256) in `cacheDir`,
 * written to a temp file and renamed, so it is whole or absent.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { claimTempPath, releaseTemp, removeAbandonedTemps } from "../core/index.js";
import type { FilesContext } from "./context.js";
import { loadFile } from "./download.js";

export async function localCopyOf(
  ctx: FilesContext,
  id: string,
  cacheDir: string,
): Promise<{ path: string; name: string }> {
  const file = await loadFile(ctx, id);
  const path = join(cacheDir, `${file.sha256}.apk`);
  const existing = await stat(path).catch(() => null);
  if (existing?.size === file.size) return { path, name: file.name };
  await mkdir(cacheDir, { recursive: true });
  // Copies cut short by a crash of their process are removed by the next one.
  await removeAbandonedTemps(cacheDir);
  const temp = claimTempPath(cacheDir);
  try {
    await pipeline(await ctx.store.get(file.blobKey), createWriteStream(temp));
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    releaseTemp(temp);
  }
  return { path, name: file.name };
}
