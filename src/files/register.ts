/**
 * The end of every upload (plain PUT or tus): the bytes are in the target under
 * `storedKey` and their digests are known. Identical content is stored once:
 * if a blob with this sha256 exists, the new copy is deleted and the file
 * points at the existing blob. The file row is written last, so a file id that
 * exists always has its bytes.
 */
import type { BlobStore } from "../blob/index.js";
import type { FileMetadata, FileRecord } from "./contract.js";
import { countUpload } from "./traffic.js";

export interface CompletedUpload {
  id: string;
  name: string;
  contentType: string;
  owner: string;
  size: number;
  sha256: string;
  md5: string;
  /** Where the bytes are now. */
  storedKey: string;
  expiresAt: Date | null;
}

/** `createdAt`: the file's creation time (default now; the caller's clock, if it has one). */
export async function registerFile(
  metadata: FileMetadata,
  store: BlobStore,
  upload: CompletedUpload,
  createdAt = new Date(),
): Promise<{ file: FileRecord; deduplicated: boolean }> {
  const { blob, created } = await metadata.addBlob({
    sha256: upload.sha256,
    md5: upload.md5,
    size: upload.size,
    blobKey: upload.storedKey,
  });
  if (!created && blob.blobKey !== upload.storedKey) {
    await store.delete(upload.storedKey);
  }
  const file: FileRecord = {
    id: upload.id,
    name: upload.name,
    contentType: upload.contentType,
    size: upload.size,
    sha256: upload.sha256,
    md5: upload.md5,
    blobKey: blob.blobKey,
    owner: upload.owner,
    createdAt,
    expiresAt: upload.expiresAt,
  };
  await metadata.createFile(file);
  countUpload(file.size);
  return { file, deduplicated: !created };
}
