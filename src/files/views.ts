/** What the file service answers about a file (PUT's 201, and docs/files.md). */
import type { FileRecord } from "./contract.js";

export interface FileView {
  id: string;
  name: string;
  size: number;
  sha256: string;
  md5: string;
  contentType: string;
  /** Path of the download, relative to the server. */
  url: string;
  createdAt: string;
  expiresAt: string | null;
}

export function fileView(file: FileRecord): FileView {
  return {
    id: file.id,
    name: file.name,
    size: file.size,
    sha256: file.sha256,
    md5: file.md5,
    contentType: file.contentType,
    url: `/files/${file.id}`,
    createdAt: file.createdAt.toISOString(),
    expiresAt: file.expiresAt === null ? null : file.expiresAt.toISOString(),
  };
}

/** Expired files are gone for clients even before the sweeper removes them. */
export function isExpired(file: FileRecord, now = Date.now()): boolean {
  return file.expiresAt !== null && file.expiresAt.getTime() <= now;
}
