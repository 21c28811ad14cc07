/**
 * Removing a file: the row first, then the blob if no other file points at
 * it. The order means a crash in between leaves an unreferenced blob (bytes
 * without a file), never a file without bytes.
 */
import type { FilesContext } from "./context.js";
import type { FileRecord } from "./contract.js";

/** Deletes file `id`; returns its record (null if it was not there) and whether its blob went too. */
export async function removeFile(
  ctx: FilesContext,
  id: string,
): Promise<{ file: FileRecord; blobRemoved: boolean } | null> {
  const file = await ctx.metadata.deleteFile(id);
  if (!file) return null;
  const blobRemoved = await ctx.metadata.removeBlobIfUnused(file.sha256);
  if (blobRemoved) await ctx.store.delete(file.blobKey);
  return { file, blobRemoved };
}
